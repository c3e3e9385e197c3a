import { Batch, isMicrobatchError, silentLogger } from '@microbatch/core';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { appendRows, postgresSink, toDatabase } from '../src/index.js';
import { createPool, databaseUrl, dropAll, randomName } from './support/db.js';

describe('database inputs', () => {
  it('a pglite:memory URI gives a zero-setup embedded database the sink owns', async () => {
    const db = await toDatabase('pglite:memory');
    expect(db.driver).toBe('pglite');
    await db.query('CREATE TABLE events (k text PRIMARY KEY)');
    const sink = postgresSink<{ k: string }>({ pool: db, name: 'out', write: async (tx, records) => void (await appendRows(tx, records, { table: 'events', columns: ['k'] })) });
    const context = { appId: 'zero-setup', epoch: 1, batchTime: 1000, attempt: 1, outputName: 'out', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
    const batch = Batch.fromPartitions(1000, [[{ k: 'a' }], [{ k: 'b' }]]);
    await sink.write(batch.bind(context), context);
    await sink.write(batch.bind(context), context);
    expect((await db.query('SELECT k FROM events ORDER BY k')).rows).toEqual([{ k: 'a' }, { k: 'b' }]);
    await sink.close();
    await db.close();
    await db.close();
  });

  it('a postgres:// URI makes a pool that close() ends', async () => {
    const db = await toDatabase(databaseUrl());
    expect(db.driver).toBe('pg');
    const table = randomName();
    await db.transaction(async (tx) => {
      await tx.query(`CREATE TEMP TABLE ${table} (n int)`);
      await tx.query(`INSERT INTO ${table} VALUES (1)`);
      expect((await tx.query<{ n: number }>(`SELECT n FROM ${table}`)).rows).toEqual([{ n: 1 }]);
    });
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toThrow();
  });

  it('refuses other URIs with INVALID_URI, without echoing a password', async () => {
    const error = await toDatabase('mysql://user:secret@host/db').catch((e: unknown) => e);
    expect(isMicrobatchError(error, 'INVALID_URI')).toBe(true);
    expect((error as Error).message).not.toContain('secret');
  });

  it('refuses a missing pool or bad options with INVALID_OPTION', () => {
    const bad = (options: object) => {
      try {
        postgresSink({ name: 'x', pool: 'pglite:memory', write: async () => {}, ...options } as never);
        return false;
      } catch (error) {
        return isMicrobatchError(error, 'INVALID_OPTION');
      }
    };
    expect(bad({ pool: undefined })).toBe(true);
    expect(bad({ name: '' })).toBe(true);
    expect(bad({ write: 'nope' })).toBe(true);
    expect(bad({ granularity: 'row' })).toBe(true);
    expect(bad({ tablePrefix: 'bad-prefix;' })).toBe(true);
    expect(bad({ prepareStatements: 'yes' })).toBe(true);
  });
});

describe('warmConnections', () => {
  const open = { appId: 'warm-up', epoch: 1, logger: silentLogger };
  const idleReaches = async (pool: pg.Pool, count: number) => {
    const deadline = Date.now() + 15_000;
    while (pool.idleCount < count) {
      if (Date.now() > deadline) throw new Error(`the pool has ${pool.idleCount} idle connections, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /** A sink on bookkeeping tables of its own, in a pool of `max`; all three are gone afterwards. */
  const withSink = async (
    max: number,
    options: Partial<Parameters<typeof postgresSink>[0]>,
    fn: (it: { pool: pg.Pool; prefix: string; sink: ReturnType<typeof postgresSink> }) => Promise<void>,
  ) => {
    const pool = createPool(databaseUrl(), max);
    const prefix = `${randomName('w')}_`;
    const sink = postgresSink({ pool, name: 'out', tablePrefix: prefix, write: async () => {}, ...options });
    try {
      await fn({ pool, prefix, sink });
    } finally {
      await sink.close();
      await dropAll(pool, prefix);
      await pool.end();
    }
  };

  it('open() opens that many pooled connections in the background, at most the pool max', async () => {
    for (const [warm, max, expected] of [
      [undefined, 8, 4],
      [6, 8, 6],
      [4, 2, 2],
    ] as const) {
      await withSink(max, warm === undefined ? {} : { warmConnections: warm }, async ({ pool, sink }) => {
        await sink.open(open);
        await idleReaches(pool, expected);
        expect(pool.totalCount).toBe(expected);
      });
    }
  });

  it('0 opens none beyond the one the epoch claim used; a negative count is INVALID_OPTION', async () => {
    await withSink(8, { warmConnections: 0 }, async ({ pool, sink }) => {
      await sink.open(open);
      await sink.close(); // waits for a warm-up, had one started
      expect(pool.totalCount).toBe(1);
    });
    const error = (() => {
      try {
        postgresSink({ pool: databaseUrl(), name: 'out', warmConnections: -1, write: async () => {} });
      } catch (e) {
        return e;
      }
    })();
    expect(isMicrobatchError(error, 'INVALID_OPTION')).toBe(true);
  });

  /** The names and texts of the sink's prepared statements on every connection of the pool, idle ones all. */
  const preparedPerConnection = async (pool: pg.Pool) => {
    const clients = await Promise.all(Array.from({ length: pool.totalCount }, () => pool.connect()));
    try {
      return await Promise.all(
        clients.map(async (client) => {
          const { rows } = await client.query<{ name: string; statement: string; runs: number }>(
            `SELECT name, statement, (generic_plans + custom_plans)::int AS runs FROM pg_prepared_statements WHERE name LIKE 'microbatch\\_%' ORDER BY name`,
          );
          return rows;
        }),
      );
    } finally {
      for (const client of clients) client.release();
    }
  };

  it("prepares the sink's own statements on each warm connection, writes nothing, and the first batch's transactions reuse them", async () => {
    await withSink(8, { storeOffsets: true }, async ({ pool, prefix, sink }) => {
      await sink.open(open);
      await idleReaches(pool, 4);
      const warmed = await preparedPerConnection(pool);
      expect(warmed).toHaveLength(4);
      const names = warmed[0]!.map((s) => s.name);
      for (const statements of warmed) {
        // The fence check, the marker insert and the offsets upsert, the same three on each.
        expect(statements.map((s) => s.name)).toEqual(names);
      }
      expect(names).toHaveLength(3);
      const texts = warmed[0]!.map((s) => s.statement).join('\n');
      for (const table of ['fences', 'markers', 'offsets']) expect(texts).toContain(`${prefix}${table}`);
      // The warm-up's transaction was rolled back: no marker, no offset.
      for (const table of ['markers', 'offsets']) expect((await pool.query(`SELECT count(*)::int AS n FROM "${prefix}${table}"`)).rows[0].n).toBe(0);

      const context = { appId: open.appId, epoch: 1, batchTime: 1000, attempt: 1, outputName: 'out', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
      const ranges = [0, 1, 2, 3].map((p) => [{ source: 's', partition: String(p), from: 0, until: 1 }]);
      const batch = Batch.fromPartitions(1000, [['a'], ['b'], ['c'], ['d']], ranges);
      await sink.write(batch.bind(context), context);
      expect((await pool.query(`SELECT count(*)::int AS n FROM "${prefix}markers"`)).rows[0].n).toBe(4);
      // Every partition's transaction ran the statements the warm-up prepared, under their names:
      // no connection holds another, and the marker insert ran once more per partition.
      const after = await preparedPerConnection(pool);
      for (const statements of after) expect(statements.map((s) => s.name)).toEqual(names);
      const runsOf = (per: typeof after, table: string) => per.flat().filter((s) => s.statement.includes(`INSERT INTO "${prefix}${table}"`)).reduce((n, s) => n + s.runs, 0);
      expect(runsOf(warmed, 'markers')).toBe(4);
      expect(runsOf(after, 'markers')).toBe(4 + 4);
    });
  });

  it('prepareStatements: false prepares nothing, neither ahead nor in the transactions', async () => {
    await withSink(8, { prepareStatements: false }, async ({ pool, prefix, sink }) => {
      await sink.open(open);
      await idleReaches(pool, 4);
      const context = { appId: open.appId, epoch: 1, batchTime: 1000, attempt: 1, outputName: 'out', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
      await sink.write(Batch.fromPartitions(1000, [['a'], ['b']]).bind(context), context);
      expect((await pool.query(`SELECT count(*)::int AS n FROM "${prefix}markers"`)).rows[0].n).toBe(2);
      expect((await preparedPerConnection(pool)).flat()).toEqual([]);
    });
  });
});
