import { StreamingContext, createMemoryCheckpointData, createMemoryCheckpointStore, createVirtualClock, silentLogger, type MemoryCheckpointData, type StreamingContextOptions } from '@microbatch/core';
import { MemoryLog, createMemoryLogSource } from '@microbatch/source-memory';
import { createCrashSwitch } from '@microbatch/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUpsert, upsertSink } from '../src/index.js';
import { createPool, randomName } from './support.js';

const pool = createPool();
afterAll(() => pool.end());

/** Page views; running totals per page from updateStateByKey, upserted as absolute values. */
function processOf(log: MemoryLog<string>, checkpoint: MemoryCheckpointData, appId: string, table: string, options: Partial<StreamingContextOptions> = {}) {
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
    .to(upsertSink({ name: 'totals', target: postgresUpsert<[string, number]>({ pool, table, keys: ['page'], columns: ['page', 'total'], row: ([page, total]) => ({ page, total }) }) }));
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
      await processOf(log, checkpoint, appId, table, { atProtocolPoint: crash.atProtocolPoint }).start();
      await crash.crashed;
      const restarted = processOf(log, checkpoint, appId, table);
      await restarted.start();
      await restarted.awaitTermination();
      const truth = new Map<string, number>();
      for (const page of pages) truth.set(page, (truth.get(page) ?? 0) + 1);
      const { rows } = await pool.query(`SELECT page, total FROM ${table} ORDER BY page`);
      expect(rows).toEqual([...truth].sort(([a], [b]) => (a < b ? -1 : 1)).map(([page, total]) => ({ page, total })));
    } finally {
      await pool.query(`DROP TABLE ${table}`);
    }
  });
});
