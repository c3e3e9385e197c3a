import { MicrobatchError } from '../errors.js';

/** Turns one state entry into one line of text and back. The default is JSON; see jsonStateCodec. */
export interface StateCodec {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/**
 * JSON, refusing what JSON would silently change (undefined, NaN, Infinity, functions, symbols,
 * BigInt, Map, Set, Date, class instances): a snapshot must restore exactly what it saved. Use a
 * codec of your own for such values.
 */
export const jsonStateCodec: StateCodec = {
  encode(value) {
    const problem = jsonProblem(value, '$');
    if (problem) throw new TypeError(problem);
    return JSON.stringify(value);
  },
  decode: (text) => JSON.parse(text),
};

function jsonProblem(value: unknown, path: string): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const problem = jsonProblem(value[i], `${path}[${i}]`);
          if (problem) return problem;
        }
        return undefined;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        return `${path} is a ${value.constructor?.name ?? 'non-plain object'}, which JSON cannot hold faithfully`;
      }
      for (const [key, inner] of Object.entries(value)) {
        const problem = jsonProblem(inner, `${path}.${key}`);
        if (problem) return problem;
      }
      return undefined;
    }
    default:
      return `${path} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}, which JSON cannot hold`;
  }
}

export function encodeStateEntry(codec: StateCodec, operator: string, entry: unknown, key: unknown): string {
  let line: string;
  try {
    line = codec.encode(entry);
  } catch (cause) {
    throw new MicrobatchError('STATE_ENCODE_FAILED', `State of operator "${operator}" for key ${describeKey(key)} cannot be encoded: ${(cause as Error).message}`, {
      cause,
      details: { operator, key: describeKey(key) },
    });
  }
  if (typeof line !== 'string' || line.includes('\n')) {
    throw new MicrobatchError('STATE_ENCODE_FAILED', `The state codec of operator "${operator}" must return one line of text`, {
      details: { operator, key: describeKey(key) },
    });
  }
  return line;
}

function describeKey(key: unknown): string {
  try {
    return typeof key === 'string' ? key : (JSON.stringify(key) ?? String(key));
  } catch {
    return String(key);
  }
}

const SNAPSHOT_FORMAT_VERSION = 1;
const CHUNK_BYTES = 256 * 1024;

interface SnapshotHeader {
  formatVersion: number;
  operator: string;
  batchTime: number;
  entries: number;
}

/** A snapshot as a stream of chunks: a header line, then one line per entry; never one big buffer. */
export async function* encodeSnapshot(
  operator: string,
  batchTime: number,
  entries: Iterable<[unknown, unknown]>,
  count: number,
  codec: StateCodec,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const header: SnapshotHeader = { formatVersion: SNAPSHOT_FORMAT_VERSION, operator, batchTime, entries: count };
  let pending = `${JSON.stringify(header)}\n`;
  for (const [key, value] of entries) {
    pending += `${encodeStateEntry(codec, operator, [key, value], key)}\n`;
    if (pending.length >= CHUNK_BYTES) {
      yield encoder.encode(pending);
      pending = '';
    }
  }
  if (pending) yield encoder.encode(pending);
}

/** Reads a snapshot stream entry by entry; a truncated or foreign snapshot is CHECKPOINT_CORRUPT. */
export async function decodeSnapshot(
  data: AsyncIterable<Uint8Array>,
  codec: StateCodec,
  expected: { operator: string; batchTime: number; where: string },
  onEntry: (key: unknown, value: unknown) => void,
): Promise<void> {
  const corrupt = (reason: string, cause?: unknown) =>
    new MicrobatchError('CHECKPOINT_CORRUPT', `State snapshot ${expected.where} is corrupt: ${reason}`, { cause, details: { ...expected, reason } });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let header: SnapshotHeader | undefined;
  let count = 0;
  let carry = '';
  const line = (text: string) => {
    if (!header) {
      try {
        header = JSON.parse(text) as SnapshotHeader;
      } catch (cause) {
        throw corrupt('unreadable header', cause);
      }
      if (header.formatVersion !== SNAPSHOT_FORMAT_VERSION || header.operator !== expected.operator || header.batchTime !== expected.batchTime) {
        throw corrupt(`header names ${header.operator}@${header.batchTime} (format ${header.formatVersion})`);
      }
      return;
    }
    let entry: unknown;
    try {
      entry = codec.decode(text);
    } catch (cause) {
      throw corrupt(`entry ${count + 1} cannot be decoded`, cause);
    }
    if (!Array.isArray(entry) || entry.length !== 2) throw corrupt(`entry ${count + 1} is not a [key, value] pair`);
    onEntry(entry[0], entry[1]);
    count++;
  };
  try {
    for await (const chunk of data) {
      const text = carry + decoder.decode(chunk, { stream: true });
      const lines = text.split('\n');
      carry = lines.pop()!;
      for (const l of lines) line(l);
    }
    carry += decoder.decode();
  } catch (error) {
    if (error instanceof MicrobatchError) throw error;
    throw corrupt('not valid UTF-8', error);
  }
  if (carry !== '') throw corrupt('truncated (no final newline)');
  if (!header) throw corrupt('empty');
  if (count !== header.entries) throw corrupt(`holds ${count} entries, header says ${header.entries}`);
}
