import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdent } from '../../src/index.js';

export const databaseUrl = (): string => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is not set: the vitest globalSetup should have set it');
  return url;
};

export const randomName = (prefix = 't'): string => `${prefix}_${randomBytes(6).toString('hex')}`;

export function createPool(url = databaseUrl(), max = 8): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => {}); // idle clients dying during a restart test are expected
  return pool;
}

/** An append-only events table: (k text, v integer, payload text), no key, so duplicates would show. */
export async function createEventsTable(db: { query(text: string): Promise<unknown> }, table: string): Promise<void> {
  await db.query(`CREATE TABLE ${quoteIdent(table)} (k text NOT NULL, v integer NOT NULL CHECK (v >= 0), payload text)`);
}

/** The bookkeeping tables of a random prefix, then the events table. */
export async function dropAll(db: { query(text: string): Promise<unknown> }, prefix: string, ...tables: string[]): Promise<void> {
  for (const table of [...tables, `${prefix}markers`, `${prefix}fences`, `${prefix}offsets`]) {
    await db.query(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }
}
