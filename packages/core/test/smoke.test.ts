import { describe, expect, it } from 'vitest';
import { MemoryLog, createMemoryLogSource } from '@microbatch/source-memory';
import { StreamingContext, createMemoryCheckpointStore, createVirtualClock } from '../src/index.js';

describe('smoke', () => {
  it('runs a pipeline to idle', async () => {
    const log = new MemoryLog<string>(2);
    log.append(0, 'a', 'b', 'c');
    log.append(1, 'd', 'e');
    const ssc = new StreamingContext({
      appId: 'smoke',
      batchIntervalMs: 1000,
      checkpoint: createMemoryCheckpointStore(),
      clock: createVirtualClock(1_000_000),
      stopWhenIdle: true,
      stopOnSignals: false,
      maxRecordsPerPartition: 2,
    });
    const seen: string[][] = [];
    ssc.source(createMemoryLogSource(log, { name: 'log' }))
      .map((r) => r.value.toUpperCase())
      .foreachBatch(async (batch) => {
        seen.push(await batch.collect());
      });
    await ssc.start();
    await ssc.awaitTermination();
    expect(seen).toEqual([['A', 'B', 'D', 'E'], ['C'], []]);
  });
});
