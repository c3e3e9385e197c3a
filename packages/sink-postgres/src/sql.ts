import { MicrobatchError } from '@microbatch/core';

/** `"name"` with embedded quotes doubled: identifiers are never interpolated raw. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `events` or `analytics.events` (schema-qualified) -> quoted. */
export function quoteTable(table: string): string {
  if (typeof table !== 'string' || table.length === 0) {
    throw new MicrobatchError('INVALID_OPTION', 'Invalid option "table": expected a non-empty table name', { details: { option: 'table', value: table } });
  }
  const dot = table.indexOf('.');
  return dot < 0 ? quoteIdent(table) : `${quoteIdent(table.slice(0, dot))}.${quoteIdent(table.slice(dot + 1))}`;
}

/**
 * A JS value in PostgreSQL's text input form, as COPY text format and `text[]` parameters both
 * take it. `null`/`undefined` -> null; Date -> ISO 8601; Buffer -> bytea hex; arrays -> array
 * literal (`{1,2}`), other objects -> JSON. With `json` (the target column is json/jsonb) every
 * value is JSON, strings included.
 */
export function toPgText(value: unknown, json = false): string | null {
  if (value === null || value === undefined) return null;
  if (json) return JSON.stringify(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value) && !json) return arrayLiteral(value);
  return JSON.stringify(value);
}

function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((item) => {
    if (Array.isArray(item)) return arrayLiteral(item);
    const text = toPgText(item);
    return text === null ? 'NULL' : `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  });
  return `{${items.join(',')}}`;
}

const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const NEEDS_COPY_ESCAPE = /[\\\n\r\t]/;

/** One line of COPY text format: tab-separated, `\N` for null, backslash escapes. */
export function encodeCopyRow(values: readonly unknown[], jsonColumns?: ReadonlySet<number>): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    const value = values[i];
    // Numbers never need escaping, and most text has nothing to escape: skip the replace for both.
    if (typeof value === 'number' && !jsonColumns?.has(i)) {
      line += String(value);
      continue;
    }
    const text = toPgText(value, jsonColumns?.has(i));
    if (text === null) line += '\\N';
    else line += NEEDS_COPY_ESCAPE.test(text) ? text.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!) : text;
  }
  return `${line}\n`;
}

/** PostgreSQL's hard limit on bind parameters in one statement. */
export const MAX_BIND_PARAMETERS = 65_535;

/**
 * COPY text for `rows` in ~64 KiB strings of whole lines: few stream writes, bounded memory.
 * Feed it to `SqlTransaction.copyFrom` or to a pg-copy-streams stream.
 */
export function* encodeCopyChunks<T>(
  rows: Iterable<T>,
  values: (row: T) => readonly unknown[],
  jsonColumns?: ReadonlySet<number>,
): Generator<string> {
  let buffer = '';
  for (const row of rows) {
    buffer += encodeCopyRow(values(row), jsonColumns);
    if (buffer.length >= 65_536) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}
