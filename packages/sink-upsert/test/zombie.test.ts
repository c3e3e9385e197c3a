import { Batch, FencedError, silentLogger } from '@microbatch/core';
import { fromPool, resetEpochs } from '@microbatch/sink-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUpsert, redisUpsert, upsertSink, type UpsertSink, type UpsertTarget } from '../src/index.js';
import { afterChunkCommits, createPool, createRedis, outputContext, randomName, redisDelete, redisDump } from './support.js';

// A zombie: a process whose epoch was superseded while it stalled. It must not move a value back
// to an older batch (or on to a batch that is no longer its own) once the newer epoch claimed the output.

const pool = createPool();
const redis = createRedis();
afterAll(async () => {
  await pool.end();
  redis.disconnect();
});

type Total = { key: string; total: number };
const contextFor = (appId: string, epoch: number, batchTime: number) => outputContext(appId, batchTime, epoch);
const write = (sink: UpsertSink<Total>, appId: string, epoch: number, batchTime: number, records: Total[]) =>
  sink.write(Batch.fromPartitions(batchTime, [records]).bind(contextFor(appId, epoch, batchTime)), contextFor(appId, epoch, batchTime));

interface Target {
  readonly name: string;
  make(): Promise<{ target: () => UpsertTarget<Total>; read: () => Promise<unknown>; cleanup: () => Promise<void> }>;
}

/** A Redis target under a random prefix, its fence key outside the prefix (so `read` shows values only). */
function redisTarget(name: string, options: (prefix: string) => Parameters<typeof redisUpsert<Total>>[0]): Target {
  return {
    name,
    async make() {
      const prefix = randomName('r');
      return {
        target: () => redisUpsert<Total>({ ...options(prefix), fenceKey: ({ appId }) => `${prefix}-fence:${appId}` }),
        read: () => redisDump(redis, prefix),
        cleanup: async () => {
          await redisDelete(redis, prefix);
          await redisDelete(redis, `${prefix}-fence`);
        },
      };
    },
  };
}

const targets: Target[] = [
  redisTarget('redis strings', (prefix) => ({ redis, type: 'string', key: (r) => `${prefix}:${r.key}`, value: (r) => r.total })),
  redisTarget('redis hash fields', (prefix) => ({ redis, type: 'hash', key: () => `${prefix}:totals`, field: (r) => r.key, value: (r) => r.total })),
  {
    name: 'postgres',
    async make() {
      const table = randomName();
      await pool.query(`CREATE TABLE ${table} (key text PRIMARY KEY, total int NOT NULL)`);
      return {
        target: () => postgresUpsert<Total>({ pool, table, keys: ['key'], columns: ['key', 'total'], tablePrefix: `${table}_` }),
        read: async () => (await pool.query(`SELECT key, total FROM ${table} ORDER BY key`)).rows,
        cleanup: async () => {
          for (const t of [table, `${table}_markers`, `${table}_fences`, `${table}_offsets`]) await pool.query(`DROP TABLE IF EXISTS ${t}`);
        },
      };
    },
  },
];

describe.each(targets)('a zombie upserting into $name', ({ make }) => {
  it('cannot move a value back to an older batch, nor write a newer one, after a newer epoch wrote', async () => {
    const { target, read, cleanup } = await make();
    const appId = randomName('app');
    const zombie = upsertSink({ name: 'totals', target: target() });
    const restarted = upsertSink({ name: 'totals', target: target() });
    try {
      await zombie.open({ appId, epoch: 1, logger: silentLogger });
      await write(zombie, appId, 1, 1000, [{ key: 'a', total: 1 }, { key: 'b', total: 1 }]);
      // The zombie stalls; the restarted process replays batch 1000 and goes on with 2000.
      await restarted.open({ appId, epoch: 2, logger: silentLogger });
      await write(restarted, appId, 2, 1000, [{ key: 'a', total: 1 }, { key: 'b', total: 1 }]);
      await write(restarted, appId, 2, 2000, [{ key: 'a', total: 5 }]);
      const newest = await read();

      // The zombie wakes up and re-runs its older batch, then the next one.
      const back = await write(zombie, appId, 1, 1000, [{ key: 'a', total: 1 }, { key: 'b', total: 1 }]).catch((e: unknown) => e);
      expect(back).toBeInstanceOf(FencedError);
      expect((back as FencedError).details).toMatchObject({ epoch: 1, currentEpoch: 2, output: 'totals', appId });
      await expect(write(zombie, appId, 1, 3000, [{ key: 'a', total: 9 }, { key: 'c', total: 9 }])).rejects.toBeInstanceOf(FencedError);
      // A zombie that only starts now is refused at open.
      await expect(upsertSink({ name: 'totals', target: target() }).open({ appId, epoch: 1, logger: silentLogger })).rejects.toBeInstanceOf(FencedError);
      expect(await read()).toEqual(newest);

      // Equal batch time, same epoch: a replay is an idempotent rewrite, not a fenced one.
      await write(restarted, appId, 2, 2000, [{ key: 'a', total: 5 }]);
      expect(await read()).toEqual(newest);
      // Another app (or output) has its own fence.
      await write(zombie, randomName('app'), 1, 4000, [{ key: 'd', total: 4 }]);
    } finally {
      await zombie.close();
      await restarted.close();
      await cleanup();
    }
  });
});

describe('a zombie stalled between the chunks of a Postgres batch', () => {
  it('writes its chunks before the newer epoch claims the output, and none after', async () => {
    const table = randomName();
    await pool.query(`CREATE TABLE ${table} (key text PRIMARY KEY, total int NOT NULL)`);
    const appId = randomName('app');
    let resume!: () => void;
    const resumed = new Promise<void>((r) => (resume = r));
    let stalled!: () => void;
    const stalling = new Promise<void>((r) => (stalled = r));
    // Once the zombie's first chunk committed, it waits for the test before its next one.
    const stalls = afterChunkCommits(fromPool(pool), (chunks) => {
      if (chunks !== 1) return;
      stalled();
      return resumed;
    });
    const options = { table, keys: ['key'], columns: ['key', 'total'], tablePrefix: `${table}_`, chunkSize: 1, concurrency: 1 };
    const zombie = upsertSink({ name: 'totals', target: postgresUpsert<Total>({ ...options, pool: stalls }) });
    const restarted = upsertSink({ name: 'totals', target: postgresUpsert<Total>({ ...options, pool }) });
    try {
      const zombieWrite = write(zombie, appId, 1, 1000, [{ key: 'a', total: 1 }, { key: 'b', total: 1 }]).catch((e: unknown) => e);
      await stalling;
      expect((await pool.query(`SELECT key, total FROM ${table} ORDER BY key`)).rows).toEqual([{ key: 'a', total: 1 }]);
      await restarted.open({ appId, epoch: 2, logger: silentLogger });
      await write(restarted, appId, 2, 1000, [{ key: 'a', total: 1 }, { key: 'b', total: 1 }]);
      await write(restarted, appId, 2, 2000, [{ key: 'a', total: 5 }, { key: 'b', total: 6 }]);
      resume();
      expect(await zombieWrite).toBeInstanceOf(FencedError);
      expect((await pool.query(`SELECT key, total FROM ${table} ORDER BY key`)).rows).toEqual([{ key: 'a', total: 5 }, { key: 'b', total: 6 }]);
      // After the checkpoint (and its epoch count) is discarded, resetEpochs lets epoch 1 write again.
      await resetEpochs(pool, { appId, outputName: 'totals', tablePrefix: `${table}_` });
      const fresh = upsertSink({ name: 'totals', target: postgresUpsert<Total>({ ...options, pool }) });
      await write(fresh, appId, 1, 3000, [{ key: 'a', total: 7 }]);
      await fresh.close();
      expect((await pool.query(`SELECT total FROM ${table} WHERE key = 'a'`)).rows).toEqual([{ total: 7 }]);
    } finally {
      await zombie.close();
      await restarted.close();
      for (const t of [table, `${table}_markers`, `${table}_fences`, `${table}_offsets`]) await pool.query(`DROP TABLE IF EXISTS ${t}`);
    }
  });
});
