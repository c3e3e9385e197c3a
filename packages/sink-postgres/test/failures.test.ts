import { Batch, FencedError, isMicrobatchError, silentLogger, type OutputContext } from '@microbatch/core';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRows, postgresSink, resetEpochs } from '../src/index.js';
import { createEventsTable, createPool, dropAll, randomName } from './support/db.js';
import { quoteIdent } from '../src/index.js';

type Event = { k: string; v: number };
const pool = createPool();
afterAll(() => pool.end());

const contextFor = (appId: string, batchTime: number, epoch = 1): OutputContext => ({
  appId,
  epoch,
  batchTime,
  attempt: 1,
  outputName: 'events-out',
  offsetRanges: [],
  signal: new AbortController().signal,
  logger: silentLogger,
});

async function withTable(fn: (table: string, appId: string) => Promise<void>) {
  const table = randomName();
  await createEventsTable(pool, table);
  try {
    await fn(table, randomName('app'));
  } finally {
    await dropAll(pool, `${table}_`, table);
  }
}

const sinkFor = (table: string, granularity: 'partition' | 'batch' = 'partition') =>
  postgresSink<Event>({
    pool,
    name: 'events-out',
    tablePrefix: `${table}_`,
    granularity,
    write: async (tx, records) => void (await appendRows(tx, records, { table, columns: ['k', 'v'] })),
  });

const count = async (table: string) => Number((await pool.query(`SELECT count(*) FROM ${quoteIdent(table)}`)).rows[0].count);
const markers = async (table: string) =>
  (await pool.query(`SELECT partition_id FROM ${quoteIdent(`${table}_markers`)} ORDER BY partition_id`)).rows.map((r) => r.partition_id);

describe('postgresSink: bad rows', () => {
  it('a row violating a constraint fails its transaction with SINK_FAILED naming output and batch; nothing of it is written', async () => {
    await withTable(async (table, appId) => {
      const sink = sinkFor(table);
      const good = Array.from({ length: 50 }, (_, i) => ({ k: `a${i}`, v: i }));
      const bad = [...Array.from({ length: 50 }, (_, i) => ({ k: `b${i}`, v: i })), { k: 'bad', v: -1 }];
      const batch = Batch.fromPartitions(7000, [good, bad]);
      const context = contextFor(appId, 7000);
      // The scheduler retries the batch: every attempt fails the same way, and is never retried inside the sink.
      for (let attempt = 1; attempt <= 2; attempt++) {
        const error = await sink.write(batch.bind({ ...context, attempt }), { ...context, attempt }).catch((e: unknown) => e);
        expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
        const e = error as { message: string; details: Record<string, unknown> };
        expect(e.message).toMatch(/Output "events-out" failed writing batch 7000 partition 1/);
        expect(e.details).toMatchObject({ output: 'events-out', batchTime: 7000, partitionId: 1, sqlState: '23514' });
      }
      // Partition 0 committed on its own; partition 1 left neither rows nor a marker: nothing skipped, nothing half-written.
      expect(await count(table)).toBe(50);
      expect(await markers(table)).toEqual([0]);
      await sink.close();
    });
  });

  it('with granularity batch, one bad row leaves the whole batch unwritten', async () => {
    await withTable(async (table, appId) => {
      const sink = sinkFor(table, 'batch');
      const batch = Batch.fromPartitions(8000, [[{ k: 'a', v: 1 }], [{ k: 'b', v: 2 }, { k: 'bad', v: -5 }]]);
      const error = await sink.write(batch.bind(contextFor(appId, 8000)), contextFor(appId, 8000)).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/batch 8000/);
      expect(await count(table)).toBe(0);
      expect(await markers(table)).toEqual([]);
      await sink.close();
    });
  });

  it("a failure in the user's write callback rolls the partition back and keeps the cause", async () => {
    await withTable(async (table, appId) => {
      const boom = new Error('boom');
      const sink = postgresSink<Event>({
        pool,
        name: 'events-out',
        tablePrefix: `${table}_`,
        async write(tx, records) {
          await appendRows(tx, records, { table, columns: ['k', 'v'] });
          throw boom;
        },
      });
      const error = await sink.write(Batch.fromPartitions(1000, [[{ k: 'a', v: 1 }]]).bind(contextFor(appId, 1000)), contextFor(appId, 1000)).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
      expect((error as Error).cause).toBe(boom);
      expect(await count(table)).toBe(0);
      await sink.close();
    });
  });
});

describe('postgresSink: zombie fencing', () => {
  it('a zombie mid-transaction while a newer epoch claims the output: it finishes that commit, then every write, retire and open of it is fenced', async () => {
    await withTable(async (table, appId) => {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const zombie = postgresSink<Event>({
        pool,
        name: 'events-out',
        tablePrefix: `${table}_`,
        async write(tx, records, ctx) {
          await appendRows(tx, records, { table, columns: ['k', 'v'] });
          if (ctx.batchTime === 1000) {
            entered();
            await held;
          }
        },
      });
      await zombie.open!({ appId, epoch: 1, logger: silentLogger });
      const zombieWrite = zombie.write(Batch.fromPartitions(1000, [[{ k: 'z1', v: 1 }]]).bind(contextFor(appId, 1000, 1)), contextFor(appId, 1000, 1));
      await inside;
      // The new process claims epoch 2: the claim waits for the zombie's open transaction.
      const fresh = sinkFor(table);
      const claim = fresh.open!({ appId, epoch: 2, logger: silentLogger });
      release();
      await zombieWrite;
      await claim;
      // From now on the zombie is refused, before writing anything.
      const error = await zombie.write(Batch.fromPartitions(2000, [[{ k: 'z2', v: 2 }]]).bind(contextFor(appId, 2000, 1)), contextFor(appId, 2000, 1)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FencedError);
      expect((error as FencedError).details).toMatchObject({ epoch: 1, currentEpoch: 2, output: 'events-out' });
      await expect(zombie.retire!({ appId, epoch: 1, before: 5000 })).rejects.toBeInstanceOf(FencedError);
      // A zombie that only now starts up is refused at open.
      await expect(sinkFor(table).open!({ appId, epoch: 1, logger: silentLogger })).rejects.toBeInstanceOf(FencedError);
      expect((await pool.query(`SELECT k FROM ${quoteIdent(table)} ORDER BY k`)).rows).toEqual([{ k: 'z1' }]);
      await zombie.close();
      await fresh.close();
    });
  });
});

describe('postgresSink: resetEpochs', () => {
  it('after the checkpoint (and its epoch count) is discarded, resetEpochs lets epoch 1 write again', async () => {
    await withTable(async (table, appId) => {
      await sinkFor(table).open!({ appId, epoch: 5, logger: silentLogger });
      const restarted = sinkFor(table);
      await expect(restarted.open!({ appId, epoch: 1, logger: silentLogger })).rejects.toBeInstanceOf(FencedError);
      await resetEpochs(pool, { appId, outputName: 'events-out', tablePrefix: `${table}_` });
      await restarted.write(Batch.fromPartitions(1000, [[{ k: 'a', v: 1 }]]).bind(contextFor(appId, 1000)), contextFor(appId, 1000));
      expect(await count(table)).toBe(1);
      await restarted.close();
    });
  });
});

describe('postgresSink: retire', () => {
  it('prunes markers of batches older than `before` only, of its own app and output only', async () => {
    await withTable(async (table, appId) => {
      const sink = sinkFor(table);
      const other = randomName('app');
      for (const app of [appId, other]) {
        for (const t of [1000, 2000, 3000]) await sink.write(Batch.fromPartitions(t, [[{ k: `${app}${t}`, v: 1 }]]).bind(contextFor(app, t)), contextFor(app, t));
      }
      await sink.retire!({ appId, epoch: 1, before: 3000 });
      const left = await pool.query(`SELECT app_id, batch_time::int AS t FROM ${quoteIdent(`${table}_markers`)} ORDER BY app_id, batch_time`);
      expect(left.rows).toEqual(
        [{ app_id: appId, t: 3000 }, ...[1000, 2000, 3000].map((t) => ({ app_id: other, t }))].sort((a, b) => (a.app_id < b.app_id ? -1 : a.app_id > b.app_id ? 1 : a.t - b.t)),
      );
      await sink.close();
    });
  });

  it('keeps the newest batch of the app even when `before` is past it (nothing pending), so lastCommittedBatch still finds it', async () => {
    await withTable(async (table, appId) => {
      const sink = sinkFor(table);
      for (const t of [1000, 2000, 3000]) {
        await sink.write(Batch.fromPartitions(t, [[{ k: `a${t}`, v: 1 }], [{ k: `b${t}`, v: 2 }]]).bind(contextFor(appId, t)), contextFor(appId, t));
      }
      // What the engine passes after a checkpoint with no pending batch: the time after the newest.
      await sink.retire!({ appId, epoch: 1, before: 3001 });
      const left = await pool.query(`SELECT batch_time::int AS t, partition_id AS p FROM ${quoteIdent(`${table}_markers`)} ORDER BY batch_time, partition_id`);
      expect(left.rows).toEqual([{ t: 3000, p: 0 }, { t: 3000, p: 1 }]);
      expect(await sink.lastCommittedBatch({ appId })).toBe(3000);
      // The kept markers still make a replay of the newest batch a no-op.
      await sink.write(Batch.fromPartitions(3000, [[{ k: 'a3000', v: 1 }], [{ k: 'b3000', v: 2 }]]).bind(contextFor(appId, 3000)), contextFor(appId, 3000));
      expect(await count(table)).toBe(6);
      await sink.close();
    });
  });
});
