import { Batch, isMicrobatchError, silentLogger, type OutputContext } from '@microbatch/core';
import { fromPool, type Database, type SqlExecutor } from '@microbatch/sink-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { lastPerKey, postgresUpsert, redisUpsert, upsertSink } from '../src/index.js';
import { createPool, createRedis, outputContext, randomName, redisDelete, redisDump } from './support.js';

const pool = createPool();
const redis = createRedis();
afterAll(async () => {
  await pool.end();
  redis.disconnect();
});

const appId = randomName('app');
const contextFor = (batchTime: number): OutputContext => outputContext(appId, batchTime);
const write = <T>(sink: { write(b: Batch<T>, c: OutputContext): Promise<void> }, time: number, partitions: T[][]) =>
  sink.write(Batch.fromPartitions(time, partitions).bind(contextFor(time)), contextFor(time));

async function withTable(ddl: string, fn: (table: string) => Promise<void>) {
  const table = randomName();
  await pool.query(`CREATE TABLE ${table} ${ddl}`);
  try {
    await fn(table);
  } finally {
    await pool.query(`DROP TABLE ${table}`);
  }
}

/** The real database, counting the statements that reach it, in transactions too. */
function counting(db: Database): Database & { statements: Array<{ text: string; params: number }> } {
  const statements: Array<{ text: string; params: number }> = [];
  const count = <E extends SqlExecutor>(executor: E): E => ({
    ...executor,
    query(text: string, params?: readonly unknown[]) {
      statements.push({ text, params: params?.length ?? 0 });
      return executor.query(text, params);
    },
  });
  return { ...count(db), statements, transaction: (fn) => db.transaction((tx) => fn(count(tx))) };
}

type Total = { key: string; total: number };

describe('deduplication within a batch', () => {
  it('keeps the last record per key in batch order, whatever partition wins the race', () => {
    const records = [
      { key: 'a', total: 1 },
      { key: 'b', total: 1 },
      { key: 'a', total: 2 },
      { key: 'c', total: 1 },
      { key: 'b', total: 3 },
    ];
    expect(lastPerKey(records, (r) => r.key)).toEqual([
      { key: 'a', total: 2 },
      { key: 'c', total: 1 },
      { key: 'b', total: 3 },
    ]);
  });

  it('a key in several partitions gets the value of the last partition, on Postgres and Redis alike', async () => {
    await withTable('(key text PRIMARY KEY, total int NOT NULL)', async (table) => {
      const prefix = randomName('r');
      const pg = upsertSink({ name: 'totals', target: postgresUpsert<Total>({ pool, table, keys: ['key'], columns: ['key', 'total'] }) });
      const rd = upsertSink({ name: 'totals', target: redisUpsert<Total>({ redis, type: 'string', key: (r) => `${prefix}:${r.key}`, value: (r) => r.total }) });
      const partitions = [[{ key: 'x', total: 1 }, { key: 'y', total: 1 }], [{ key: 'x', total: 2 }], [{ key: 'y', total: 3 }, { key: 'x', total: 4 }]];
      try {
        for (let replay = 0; replay < 3; replay++) {
          await write(pg, 1000, partitions);
          await write(rd, 1000, partitions);
        }
        expect((await pool.query(`SELECT key, total FROM ${table} ORDER BY key`)).rows).toEqual([{ key: 'x', total: 4 }, { key: 'y', total: 3 }]);
        expect(await redisDump(redis, prefix)).toEqual([['x', '4'], ['y', '3']]);
      } finally {
        await redisDelete(redis, prefix);
      }
    });
  });
});

describe('postgresUpsert', () => {
  it('sends chunks as unnest arrays: one statement per chunk, one bind parameter per column, 120k rows at once', async () => {
    await withTable('(key text PRIMARY KEY, total int NOT NULL, note text)', async (table) => {
      const db = counting(fromPool(pool));
      const sink = upsertSink({ name: 'totals', target: postgresUpsert({ pool: db, table, keys: ['key'], columns: ['key', 'total', 'note'], chunkSize: 50_000 }) });
      // 120k rows x 3 columns would be 360k bind parameters as a VALUES list: far past the 65535 limit.
      const rows = Array.from({ length: 120_000 }, (_, i) => ({ key: `k${i}`, total: i, note: i % 2 ? null : `n${i}` }));
      await write(sink, 1000, [rows.slice(0, 60_000), rows.slice(60_000)]);
      const upserts = db.statements.filter((s) => s.text.startsWith(`INSERT INTO "${table}"`));
      expect(upserts).toHaveLength(3);
      expect(upserts.every((s) => s.params === 3)).toBe(true);
      const { rows: check } = await pool.query(`SELECT count(*)::int AS n, sum(total)::text AS s, count(note)::int AS notes FROM ${table}`);
      expect(check[0]).toEqual({ n: 120_000, s: String((119_999 * 120_000) / 2), notes: 60_000 });
      await sink.close();
    });
  });

  it('casts every column to its catalog type: composite keys, jsonb, arrays, timestamps', async () => {
    await withTable('(tenant int, id text, doc jsonb, tags text[], at timestamptz, PRIMARY KEY (tenant, id))', async (table) => {
      const sink = upsertSink({
        name: 'docs',
        target: postgresUpsert({ pool, table, keys: ['tenant', 'id'], columns: ['tenant', 'id', 'doc', 'tags', 'at'] }),
      });
      const at = new Date('2025-05-06T07:08:09.123Z');
      await write(sink, 1000, [[{ tenant: 1, id: 'a', doc: { n: [1, 'two'] }, tags: ['x', 'y,"z"'], at }, { tenant: 2, id: 'a', doc: 'just a string', tags: [], at: null }]]);
      await write(sink, 2000, [[{ tenant: 1, id: 'a', doc: null, tags: ['new'], at }]]);
      const { rows } = await pool.query(`SELECT * FROM ${table} ORDER BY tenant, id`);
      expect(rows).toEqual([
        { tenant: 1, id: 'a', doc: null, tags: ['new'], at },
        { tenant: 2, id: 'a', doc: 'just a string', tags: [], at: null },
      ]);
    });
  });

  it('onlyIfNotOlder: replaying an old batch after a newer one leaves the newer values', async () => {
    await withTable('(key text PRIMARY KEY, total int NOT NULL, batch_time bigint NOT NULL)', async (table) => {
      const sink = upsertSink({
        name: 'totals',
        target: postgresUpsert<Total & { batch_time: number }>({ pool, table, keys: ['key'], columns: ['key', 'total', 'batch_time'], onlyIfNotOlder: 'batch_time' }),
      });
      await write(sink, 1000, [[{ key: 'a', total: 1, batch_time: 1000 }]]);
      await write(sink, 2000, [[{ key: 'a', total: 5, batch_time: 2000 }]]);
      await write(sink, 1000, [[{ key: 'a', total: 1, batch_time: 1000 }]]);
      expect((await pool.query(`SELECT key, total FROM ${table}`)).rows).toEqual([{ key: 'a', total: 5 }]);
    });
  });

  it('a constraint violation fails with SINK_FAILED naming output and batch', async () => {
    await withTable('(key text PRIMARY KEY, total int NOT NULL CHECK (total >= 0))', async (table) => {
      const sink = upsertSink({ name: 'totals', target: postgresUpsert<Total>({ pool, table, keys: ['key'], columns: ['key', 'total'] }) });
      const error = await write(sink, 3000, [[{ key: 'a', total: 1 }, { key: 'b', total: -1 }]]).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/Output "totals" failed writing batch 3000/);
      expect((error as { details: object }).details).toMatchObject({ output: 'totals', batchTime: 3000, sqlState: '23514' });
      // One statement per chunk is atomic: nothing of the chunk was written.
      expect((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n).toBe(0);
    });
  });

  it('refuses bad options with INVALID_OPTION', async () => {
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return isMicrobatchError(error, 'INVALID_OPTION');
      }
      return false;
    };
    expect(bad(() => postgresUpsert({ pool, table: 't', keys: [], columns: ['a'] }))).toBe(true);
    expect(bad(() => postgresUpsert({ pool, table: 't', keys: ['k'], columns: ['a'] }))).toBe(true);
    expect(bad(() => redisUpsert({ redis, type: 'hash', key: () => 'k' }))).toBe(true);
    expect(bad(() => upsertSink({ name: '', target: redisUpsert({ redis, type: 'string', key: () => 'k', value: () => 1 }) }))).toBe(true);
    await withTable('(key text PRIMARY KEY)', async (table) => {
      const sink = upsertSink({ name: 'x', target: postgresUpsert({ pool, table, keys: ['key'], columns: ['key', 'nope'] }) });
      const error = await write(sink, 1000, [[{ key: 'a', nope: 1 }]]).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'INVALID_OPTION')).toBe(true);
    });
  });
});

describe('fence: false', () => {
  it('writes plain statements and pipelines: no fences table, no fence key', async () => {
    await withTable('(key text PRIMARY KEY, total int NOT NULL)', async (table) => {
      const prefix = randomName('r');
      const fenceKey = () => `${prefix}-fence`;
      const pg = upsertSink({ name: 'totals', target: postgresUpsert<Total>({ pool, table, keys: ['key'], columns: ['key', 'total'], tablePrefix: `${table}_`, fence: false }) });
      const rd = upsertSink({ name: 'totals', target: redisUpsert<Total>({ redis, type: 'string', key: (r) => `${prefix}:${r.key}`, value: (r) => r.total, fenceKey, fence: false }) });
      try {
        await pg.open({ appId, epoch: 1, logger: silentLogger });
        await rd.open({ appId, epoch: 1, logger: silentLogger });
        await write(pg, 1000, [[{ key: 'a', total: 1 }]]);
        await write(rd, 1000, [[{ key: 'a', total: 1 }]]);
        expect((await pool.query(`SELECT key, total FROM ${table}`)).rows).toEqual([{ key: 'a', total: 1 }]);
        expect((await pool.query(`SELECT to_regclass($1) AS fences`, [`${table}_fences`])).rows).toEqual([{ fences: null }]);
        expect(await redisDump(redis, prefix)).toEqual([['a', '1']]);
        expect(await redis.exists(fenceKey())).toBe(0);
      } finally {
        await redisDelete(redis, prefix);
      }
    });
  });
});

describe('redisUpsert', () => {
  it('hash objects and TTLs', async () => {
    const prefix = randomName('r');
    const sink = upsertSink({
      name: 'profiles',
      target: redisUpsert<{ id: string; name: string; visits: number }>({
        redis,
        type: 'hash',
        key: (r) => `${prefix}:${r.id}`,
        fields: (r) => ({ name: r.name, visits: r.visits }),
        ttlSeconds: 600,
      }),
    });
    try {
      await write(sink, 1000, [[{ id: 'u1', name: 'Ann', visits: 3 }], [{ id: 'u2', name: 'Bob', visits: 1 }, { id: 'u1', name: 'Ann', visits: 4 }]]);
      expect(await redisDump(redis, prefix)).toEqual([
        ['u1', { name: 'Ann', visits: '4' }],
        ['u2', { name: 'Bob', visits: '1' }],
      ]);
      expect(await redis.ttl(`${prefix}:u1`)).toBeGreaterThan(0);
    } finally {
      await redisDelete(redis, prefix);
    }
  });

  it('a hash record with 20k fields is written whole (the fenced script sets them in slices)', async () => {
    const prefix = randomName('r');
    const fields = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`f${i}`, i]));
    const sink = upsertSink({ name: 'wide', target: redisUpsert<{ id: string }>({ redis, type: 'hash', key: (r) => `${prefix}:${r.id}`, fields: () => fields }) });
    try {
      await write(sink, 1000, [[{ id: 'w' }]]);
      const stored = await redis.hgetall(`${prefix}:w`);
      expect(Object.keys(stored)).toHaveLength(20_000);
      expect(stored.f19999).toBe('19999');
    } finally {
      await redisDelete(redis, prefix);
    }
  });

  it('owns and closes a client it made from a URL; close() twice is safe', async () => {
    const prefix = randomName('r');
    const sink = upsertSink({ name: 't', target: redisUpsert<Total>({ redis: process.env.REDIS_URL!, type: 'string', key: (r) => `${prefix}:${r.key}`, value: (r) => r.total }) });
    try {
      await write(sink, 1000, [[{ key: 'a', total: 1 }]]);
      await sink.close!();
      await sink.close!();
      expect(await redisDump(redis, prefix)).toEqual([['a', '1']]);
    } finally {
      await redisDelete(redis, prefix);
    }
  });
});
