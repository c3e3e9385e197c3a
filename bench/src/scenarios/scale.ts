// Scenario 7a: 1000 partitions, empty batches — what a batch costs when there is nothing to do
// (ask every partition's offset, write the plan ahead durably, run the outputs, complete), against
// a loop doing only the irreducible part: the same offset query and the same checkpoint write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, createVirtualClock, silentLogger } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';
import { benchCheckpoint } from '@microbatch/testkit';
import { percentile } from '../events.ts';

export interface EmptyArgs {
  readonly partitions: number;
  readonly batches: number;
}

export interface PerBatchResult {
  readonly batches: number;
  readonly msPerBatch: number;
  readonly p99Ms: number;
}

const emptySource = (partitions: number) =>
  createGeneratorSource({ name: 'empty', partitions, recordsPerPartition: 0, generate: () => 0 });

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'microbatch-bench-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Batch start to batch start, measured by the engine's listener; the first 5 batches warm up. */
async function emptyBatches(args: EmptyArgs): Promise<PerBatchResult> {
  return withDir(async (dir) => {
    const store = createFsCheckpointStore({ dir, logger: silentLogger });
    const ssc = new StreamingContext({
      appId: 'bench-empty',
      batchIntervalMs: 1000,
      checkpoint: store,
      clock: createVirtualClock(1_000_000),
      stopOnSignals: false,
      logger: silentLogger,
    });
    ssc.source(emptySource(args.partitions)).foreachBatch(async (batch) => void (await batch.count()), { name: 'discard' });
    const warmup = 5;
    const stamps: number[] = [];
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    ssc.addListener({
      onBatchCompleted: () => {
        stamps.push(performance.now());
        if (stamps.length === warmup + args.batches + 1) done();
      },
    });
    await ssc.start();
    await finished;
    await ssc.stop();
    await ssc.awaitTermination();
    await store.close();
    const gaps = stamps.slice(warmup + 1).map((t, i) => t - stamps[warmup + i]!);
    return { batches: gaps.length, msPerBatch: gaps.reduce((a, b) => a + b, 0) / gaps.length, p99Ms: percentile(gaps, 99) };
  });
}

/** The floor: the source's offsets of every partition, then one durable checkpoint write of the same shape. */
async function emptyFloor(args: EmptyArgs): Promise<PerBatchResult> {
  return withDir(async (dir) => {
    const store = createFsCheckpointStore({ dir, logger: silentLogger });
    const source = emptySource(args.partitions);
    await source.open?.({ appId: 'bench-floor', logger: silentLogger } as never);
    const epoch = await store.acquireEpoch('bench-floor');
    const gaps: number[] = [];
    for (let seq = 1; seq <= args.batches + 5; seq++) {
      const start = performance.now();
      await source.latestOffsets();
      await store.write(benchCheckpoint('bench-floor', epoch, seq, args.partitions));
      if (seq > 5) gaps.push(performance.now() - start);
    }
    await store.close();
    return { batches: gaps.length, msPerBatch: gaps.reduce((a, b) => a + b, 0) / gaps.length, p99Ms: percentile(gaps, 99) };
  });
}

export const scaleTasks = { 'empty-batches': emptyBatches, 'empty-floor': emptyFloor };
