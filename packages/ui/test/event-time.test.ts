import { StreamingContext, createMemoryCheckpointStore, createVirtualClock, silentLogger } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';
import { afterEach, describe, expect, it } from 'vitest';
import { serveDashboard, type DashboardSnapshot, type ServedDashboard } from '../src/index.js';

let served: ServedDashboard | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

describe('the dashboard and event-time windows', () => {
  it('shows late records of an event-time window operator as rejected records under its name', async () => {
    const ssc = new StreamingContext({
      appId: `ui-event-time-${Math.random().toString(36).slice(2, 8)}`,
      batchIntervalMs: 1000,
      checkpoint: createMemoryCheckpointStore(),
      clock: createVirtualClock(1_700_000_000_000),
      stopWhenIdle: true,
      stopOnSignals: false,
      logger: silentLogger,
    });
    // Event time = offset s, except offsets 4, 6 and 8 at 0 s, which arrive after the watermark passed 0.
    const source = createGeneratorSource({ name: 'clicks', partitions: 1, recordsPerPartition: 10, maxRecordsPerPartition: 2, generate: ({ offset }) => ({ ts: [4, 6, 8].includes(offset) ? 0 : offset * 1000 }) });
    const windows = ssc
      .source(source)
      .withWatermark((r) => r.ts, { delayMs: 0 })
      .map((): [string, number] => ['all', 1])
      .reduceByKeyAndEventWindow((a, b) => a + b, 2000, undefined, { name: 'per-2s' });
    windows.foreachBatch(async (batch) => void (await batch.count()), { name: 'windows' });
    windows.late().foreachBatch(async (batch) => void (await batch.count()), { name: 'late' });
    served = await serveDashboard({ context: ssc, port: 0 });
    await ssc.start();
    await ssc.awaitTermination();
    const state = (await (await fetch(`${served.url}api/state`)).json()) as DashboardSnapshot;
    expect(state.rejected).toEqual([{ source: 'per-2s', reason: 'late', action: 'side-output', count: 3 }]);
    expect(state.totals.rejected).toBe(3);
  });
});
