import { PGlite } from '@electric-sql/pglite';
import { sinkSuite } from '@microbatch/testkit';
import { afterAll, describe, it } from 'vitest';
import { postgresUpsert, redisUpsert, upsertSink } from '../src/index.js';
import { createPool, createRedis, redisDelete, redisDump } from './support.js';

/** A running total per key, as updateStateByKey would emit: absolute values, keys repeated across partitions. */
type Total = { key: string; total: number; seen: string };
const record = (batchTime: number, partitionId: number, index: number): Total => ({
  key: `k${(partitionId * 3 + index) % 11}`,
  total: batchTime / 100 + partitionId * 1000 + index,
  seen: `${batchTime}/${partitionId}/${index}`,
});

const pool = createPool();
const pglite = new PGlite();
const redis = createRedis();
afterAll(async () => {
  await pool.end();
  await pglite.close();
  redis.disconnect();
});

// A fence per target, outside the dumped keys: the reference target of a test writes at epoch 1 again.
const fenceKeyOf = (target: string) => () => `${target}-fence:totals`;
const cleanupRedis = async (target: string) => {
  await redisDelete(redis, target);
  await redisDelete(redis, `${target}-fence`);
};

type Queryable = { query(text: string): Promise<{ rows: unknown[] }> };
for (const [name, db] of [
  ['postgres', pool],
  ['pglite', pglite],
] as Array<[string, Queryable & (typeof pool | typeof pglite)]>) {
  const created = new Set<string>();
  sinkSuite<Total>({
    describe,
    it,
    name: `upsert into ${name}`,
    guarantee: 'idempotent',
    async createSink(target) {
      if (!created.has(target)) {
        created.add(target);
        await db.query(`CREATE TABLE ${target} (key text PRIMARY KEY, total bigint NOT NULL, seen text NOT NULL)`);
      }
      // Each target has its own fences table: the reference target of a test writes at epoch 1 again.
      const upsert = postgresUpsert<Total>({ pool: db, table: target, keys: ['key'], columns: ['key', 'total', 'seen'], chunkSize: 4, tablePrefix: `${target}_` });
      return upsertSink({ name: 'totals', target: upsert });
    },
    readBack: async (target) => (await db.query(`SELECT key, total::text, seen FROM ${target} ORDER BY key`)).rows,
    record,
    async cleanup(target) {
      if (!created.delete(target)) return;
      for (const table of [target, `${target}_markers`, `${target}_fences`, `${target}_offsets`]) await db.query(`DROP TABLE IF EXISTS ${table}`);
    },
  });
}

sinkSuite<Total>({
  describe,
  it,
  name: 'upsert into redis strings',
  guarantee: 'idempotent',
  createSink: (target) =>
    upsertSink({
      name: 'totals',
      target: redisUpsert<Total>({ redis, type: 'string', key: (r) => `${target}:${r.key}`, value: (r) => `${r.total}|${r.seen}`, pipelineSize: 5, fenceKey: fenceKeyOf(target) }),
    }),
  readBack: (target) => redisDump(redis, target),
  record,
  cleanup: cleanupRedis,
});

sinkSuite<Total>({
  describe,
  it,
  name: 'upsert into redis hash fields',
  guarantee: 'idempotent',
  createSink: (target) =>
    upsertSink({
      name: 'totals',
      target: redisUpsert<Total>({ redis, type: 'hash', key: () => `${target}:totals`, field: (r) => r.key, value: (r) => r.total, fenceKey: fenceKeyOf(target) }),
    }),
  readBack: (target) => redisDump(redis, target),
  record,
  cleanup: cleanupRedis,
});
