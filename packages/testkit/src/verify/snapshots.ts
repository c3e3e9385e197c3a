import { MicrobatchError } from '@microbatch/core';
import type { Row } from './diff.js';
import { optionalImport } from './optional-import.js';
import type { RunInfo } from './options.js';

/** Rows from a snapshot command's stdout: one JSON value per line (an object is a row; anything else becomes `{ value }`). */
export function parseJsonLines(text: string, what: string): Row[] {
  const rows: Row[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (!line.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new MicrobatchError('INVALID_RECORD', `${what}: line ${i + 1} is not JSON: ${line.slice(0, 120)}`, { cause: error, details: { line: i + 1 } });
    }
    rows.push(typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Row) : { value });
  }
  return rows;
}

/** `{target}` in a query, pattern or topic becomes the run's target name (only [a-z0-9_], so it is safe in SQL). */
export function withTarget(template: string, run: Pick<RunInfo, 'target'>): string {
  return template.replaceAll('{target}', run.target);
}


interface PgModule {
  default: { Client: new (options: { connectionString: string }) => { connect(): Promise<void>; query(sql: string): Promise<{ rows: Row[] }>; end(): Promise<void> } };
}

async function withPg<T>(url: string, helper: string, fn: (client: { query(sql: string): Promise<{ rows: Row[] }> }) => Promise<T>): Promise<T> {
  const pg = await optionalImport<PgModule>('pg', helper);
  const client = new pg.default.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const checkUrl = (helper: string, url: unknown, schemes: readonly string[]) => {
  if (typeof url !== 'string' || !schemes.some((s) => url.startsWith(s))) {
    throw new MicrobatchError('INVALID_URI', `${helper}: url must start with ${schemes.join(' or ')}`, { cause: new TypeError(`got ${String(url)}`), details: { url } });
  }
};

/**
 * A new, randomly named database on a PostgreSQL server (`CREATE DATABASE`), for one test or one
 * run's targets; `drop()` removes it (WITH (FORCE): connections a killed run left are closed).
 */
export async function freshPostgresDatabase(serverUrl: string, prefix = 'mbtest'): Promise<{ url: string; drop(): Promise<void> }> {
  checkUrl('freshPostgresDatabase', serverUrl, ['postgres://', 'postgresql://']);
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new MicrobatchError('INVALID_OPTION', 'freshPostgresDatabase: prefix must be a lower-case SQL identifier', { cause: new TypeError(prefix) });
  const name = `${prefix}_${Math.random().toString(36).slice(2, 12)}`;
  await withPg(serverUrl, 'freshPostgresDatabase', (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withPg(serverUrl, 'freshPostgresDatabase', async (client) => void (await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))),
  };
}

/** A snapshot step: the rows of a SQL query (with `{target}`) on PostgreSQL. Order does not matter: the diff compares multisets. */
export function postgresSnapshot(options: { url: string; query: string }): (run: RunInfo) => Promise<Row[]> {
  checkUrl('postgresSnapshot', options.url, ['postgres://', 'postgresql://']);
  if (typeof options.query !== 'string' || options.query.trim() === '') throw new MicrobatchError('INVALID_OPTION', 'postgresSnapshot: query must be a SQL query', { cause: new TypeError(String(options.query)) });
  return (run) => withPg(options.url, 'postgresSnapshot', async (client) => (await client.query(withTarget(options.query, run))).rows);
}

/** A prepare step: runs SQL statements (with `{target}`) on PostgreSQL, e.g. to drop and create a run's tables. */
export function postgresPrepare(options: { url: string; sql: string }): (run: RunInfo) => Promise<void> {
  checkUrl('postgresPrepare', options.url, ['postgres://', 'postgresql://']);
  return (run) => withPg(options.url, 'postgresPrepare', async (client) => void (await client.query(withTarget(options.sql, run))));
}

interface RedisClient {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  type(key: string): Promise<string>;
  get(key: string): Promise<string | null>;
  hgetall(key: string): Promise<Record<string, string>>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  smembers(key: string): Promise<string[]>;
  zrange(key: string, start: number, stop: number, withScores: 'WITHSCORES'): Promise<string[]>;
  quit(): Promise<unknown>;
}

/**
 * A snapshot step: every Redis key matching `pattern` (with `{target}`), one row per key:
 * `{ key, type, value }` (strings, hashes, lists, sets sorted, sorted sets with scores). The run's
 * target in a key is written back as `{target}`, so the two runs' keys compare.
 */
export function redisSnapshot(options: { url: string; pattern: string }): (run: RunInfo) => Promise<Row[]> {
  checkUrl('redisSnapshot', options.url, ['redis://', 'rediss://']);
  if (typeof options.pattern !== 'string' || options.pattern === '') throw new MicrobatchError('INVALID_OPTION', 'redisSnapshot: pattern must be a key pattern', { cause: new TypeError(String(options.pattern)) });
  return async (run) => {
    const { Redis } = await optionalImport<{ Redis: new (url: string, options: { lazyConnect: boolean; maxRetriesPerRequest: number }) => RedisClient & { connect(): Promise<void> } }>('ioredis', 'redisSnapshot');
    const client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    await client.connect();
    try {
      const keys = new Set<string>();
      let cursor = '0';
      do {
        const [next, batch] = await client.scan(cursor, 'MATCH', withTarget(options.pattern, run), 'COUNT', 500);
        for (const k of batch) keys.add(k);
        cursor = next;
      } while (cursor !== '0');
      const rows: Row[] = [];
      for (const key of [...keys].sort()) {
        const type = await client.type(key);
        const value =
          type === 'string' ? await client.get(key)
          : type === 'hash' ? await client.hgetall(key)
          : type === 'list' ? await client.lrange(key, 0, -1)
          : type === 'set' ? (await client.smembers(key)).sort()
          : type === 'zset' ? await client.zrange(key, 0, -1, 'WITHSCORES')
          : `(${type})`;
        rows.push({ key: key.replaceAll(run.target, '{target}'), type, value });
      }
      return rows;
    } finally {
      await client.quit();
    }
  };
}
