import { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRows, fromPglite, fromPool, insertChunkSize, MAX_BIND_PARAMETERS, type Database } from '../src/index.js';
import { createPool, randomName } from './support/db.js';

const pool = createPool();
const pglite = new PGlite();
afterAll(async () => {
  await pool.end();
  await pglite.close();
});

const awkward = [
  { id: 1, t: 'plain', n: 1.5, b: true, j: { a: [1, 'x\ty'] }, arr: [1, 2, 3], at: new Date('2024-01-02T03:04:05.678Z'), raw: Buffer.from([0, 255, 10]) },
  { id: 2, t: 'tab\there, newline\nhere, cr\rhere, backslash \\ and \\N', n: -0.25, b: false, j: [1, 2], arr: [], at: new Date(0), raw: Buffer.alloc(0) },
  { id: 3, t: null, n: null, b: null, j: null, arr: null, at: null, raw: null },
  { id: 4, t: 'unicode ✓ 漢字 🙂 "quotes"', n: 1e21, b: true, j: 'a string', arr: [null, 7], at: new Date('1999-12-31T23:59:59Z'), raw: Buffer.from('\\') },
];
const columns = ['id', 't', 'n', 'b', 'j', 'arr', 'at', 'raw'];

describe.each([
  ['postgres', () => fromPool(pool)],
  ['pglite', () => fromPglite(pglite)],
] as const)('appendRows on %s', (_name, make) => {
  const db: Database = make();

  it.each(['copy', 'insert'] as const)('%s round-trips awkward values exactly', async (method) => {
    const table = randomName();
    await db.query(`CREATE TABLE ${table} (id int, t text, n float8, b boolean, j jsonb, arr int[], at timestamptz, raw bytea)`);
    try {
      const written = await db.transaction((tx) => appendRows(tx, awkward, { table, columns, method, jsonColumns: ['j'] }));
      expect(written).toBe(awkward.length);
      const { rows } = await db.query<Record<string, unknown>>(`SELECT * FROM ${table} ORDER BY id`);
      expect(rows.map((r) => ({ ...r, raw: r.raw === null ? null : Buffer.from(r.raw as Uint8Array) }))).toEqual(awkward);
    } finally {
      await db.query(`DROP TABLE ${table}`);
    }
  });
});

describe('appendRows with multi-row INSERT', () => {
  it('splits rows under the bind-parameter limit: 12 columns x 20000 rows in one call', async () => {
    const db = fromPool(pool);
    const table = randomName();
    const cols = Array.from({ length: 12 }, (_, i) => `c${i}`);
    await db.query(`CREATE TABLE ${table} (${cols.map((c) => `${c} int`).join(', ')})`);
    try {
      const rows = Array.from({ length: 20_000 }, (_, r) => cols.map((_, c) => r * 12 + c));
      expect(rows.length * cols.length).toBeGreaterThan(MAX_BIND_PARAMETERS);
      expect(insertChunkSize(cols.length) * cols.length).toBeLessThanOrEqual(MAX_BIND_PARAMETERS);
      expect(await db.transaction((tx) => appendRows(tx, rows, { table, columns: cols, method: 'insert' }))).toBe(20_000);
      const { rows: sums } = await db.query<{ n: number; s: string }>(`SELECT count(*)::int AS n, sum(c11)::text AS s FROM ${table}`);
      expect(sums[0]).toEqual({ n: 20_000, s: String(rows.reduce((a, r) => a + r[11]!, 0)) });
    } finally {
      await db.query(`DROP TABLE ${table}`);
    }
  });
});
