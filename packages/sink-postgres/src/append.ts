import { MicrobatchError } from '@microbatch/core';
import type { SqlTransaction } from './db.js';
import { MAX_BIND_PARAMETERS, encodeCopyChunks, quoteIdent, quoteTable, toPgText } from './sql.js';

/** A row as an object keyed by column name, or as values in `columns` order. */
export type Row = Readonly<Record<string, unknown>> | readonly unknown[];

export interface AppendOptions {
  /** Target table, optionally schema-qualified (`analytics.events`). */
  readonly table: string;
  readonly columns: readonly string[];
  /** `copy` (default): COPY FROM STDIN, fastest. `insert`: multi-row INSERT statements. */
  readonly method?: 'copy' | 'insert';
  /** Columns of type json/jsonb: their array values are sent as JSON, not as Postgres arrays. */
  readonly jsonColumns?: readonly string[];
}

/** Rows per multi-row INSERT: as many as the bind-parameter limit allows, at most 5000. */
export function insertChunkSize(columnCount: number): number {
  return Math.max(1, Math.min(5000, Math.floor(MAX_BIND_PARAMETERS / columnCount)));
}

/**
 * Appends rows to a table inside the sink's transaction: the common body of a `write` callback.
 * Resolves with the number of rows written.
 */
export async function appendRows(tx: SqlTransaction, rows: readonly Row[], options: AppendOptions): Promise<number> {
  const { columns } = options;
  if (!Array.isArray(columns) || columns.length === 0) {
    throw new MicrobatchError('INVALID_OPTION', 'Invalid option "columns": expected at least one column name', { details: { option: 'columns' } });
  }
  if (rows.length === 0) return 0;
  const values = (row: Row): readonly unknown[] => (Array.isArray(row) ? row : columns.map((c) => (row as Record<string, unknown>)[c]));
  const target = `${quoteTable(options.table)} (${columns.map(quoteIdent).join(', ')})`;
  const json = new Set((options.jsonColumns ?? []).map((c) => columns.indexOf(c)));
  if ((options.method ?? 'copy') === 'copy') return tx.copyFrom(target, encodeCopyChunks(rows, values, json));
  const size = insertChunkSize(columns.length);
  let written = 0;
  for (let start = 0; start < rows.length; start += size) {
    const chunk = rows.slice(start, start + size);
    const params: unknown[] = [];
    const tuples = chunk.map((row) => {
      // Text parameters typed by their target column: the same value encoding as COPY. Bytes stay
      // bytes: both drivers send them natively (PGlite refuses a hex string for bytea).
      const placeholders = values(row).map((value, i) => {
        params.push(value instanceof Uint8Array ? value : toPgText(value, json.has(i)));
        return `$${params.length}`;
      });
      return `(${placeholders.join(', ')})`;
    });
    written += (await tx.query(`INSERT INTO ${target} VALUES ${tuples.join(', ')}`, params)).rowCount;
  }
  return written;
}

