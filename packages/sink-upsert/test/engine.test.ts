import { StreamingContext, createMemoryCheckpointData, createMemoryCheckpointStore, createVirtualClock, silentLogger, type MemoryCheckpointData, type StreamingContextOptions } from '@microbatch/core';
import { MemoryLog, createMemoryLogSource } from '@microbatch/source-memory';
import { createCrashSwitch } from '@microbatch/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUpsert, upsertSink, type UpsertTarget } from '../src/index.js';
import { createPool, randomName } from './support.js';

const pool = createPool();
afterAll(() => pool.end());

/** Page views; running totals per page from updateStateByKey, upserted as absolute values. */
/** The target, noting the batch time of every upsert it runs into `written`. */
function recording<T>(target: UpsertTarget<T>, written: number[]): UpsertTarget<T> {
  return { ...target, upsert: (records, context) => (written.push(context.batchTime), target.upsert(records, context)) };
}

function processOf(log: MemoryLog<string>, checkpoint: MemoryCheckpointData, appId: string, table: string, written: number[], options: Partial<StreamingContextOptions> = {}) {
  const ssc = new StreamingContext({
    appId,
    batchIntervalMs: 1000,
    checkpoint: createMemoryCheckpointStore({ data: checkpoint }),
    clock: createVirtualClock(1_700_000_000_000),
    stopWhenIdle: true,
    stopOnSignals: false,
    retryBackoffMs: 10,
    maxRecordsPerPartition: 3,
    logger: silentLogger,
    ...options,
  });
  ssc
    .source(createMemoryLogSource(log, { name: 'views' }))
    .map((r): [string, number] => [r.value, 1])
    .updateStateByKey((values: number[], total: number | undefined) => (total ?? 0) + values.length, { name: 'page-totals' })
    .to(
      upsertSink({
        name: 'totals',
        target: recording(postgresUpsert<[string, number]>({ pool, table, keys: ['page'], columns: ['page', 'total'], row: ([page, total]) => ({ page, total }) }), written),
      }),
    );
  return ssc;
}

describe('upsertSink driven by StreamingContext', () => {
  it('running totals survive a crash after the output and a replay: the table equals the true counts', async () => {
    const table = randomName();
    await pool.query(`CREATE TABLE ${table} (page text PRIMARY KEY, total int NOT NULL)`);
    try {
      const log = new MemoryLog<string>(2);
      const pages = ['home', 'about', 'home', 'blog', 'home', 'blog', 'about', 'home', 'shop', 'home', 'blog', 'shop', 'home'];
      pages.forEach((page, i) => log.append(i % 2, page));
      const checkpoint = createMemoryCheckpointData();
      const appId = randomName('app');
      const crash = createCrashSwitch();
      crash.arm('output:after', 2); // batch 2 is upserted, its completion never recorded
      const first: number[] = [];
      await processOf(log, checkpoint, appId, table, first, { atProtocolPoint: crash.atProtocolPoint }).start();
      await crash.crashed;
      expect(first).toHaveLength(2);
      const again: number[] = [];
      const restarted = processOf(log, checkpoint, appId, table, again);
      await restarted.start();
      await restarted.awaitTermination();
      // The crash did leave batch 2 to replay: the restarted process upserted it again first.
      expect(again[0]).toBe(first[1]);
      const truth = new Map<string, number>();
      for (const page of pages) truth.set(page, (truth.get(page) ?? 0) + 1);
      const { rows } = await pool.query(`SELECT page, total FROM ${table} ORDER BY page`);
      expect(rows).toEqual([...truth].sort(([a], [b]) => (a < b ? -1 : 1)).map(([page, total]) => ({ page, total })));
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });
});
