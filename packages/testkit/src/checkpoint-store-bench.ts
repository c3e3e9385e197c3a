import { performance } from 'node:perf_hooks';
import { CHECKPOINT_FORMAT_VERSION, checkpointName, encodeCheckpoint, type Checkpoint, type CheckpointStore } from '@microbatch/core';
import { randomAppId } from './checkpoint-store-suite.js';

export interface CheckpointLatency {
  readonly partitions: number;
  /** Encoded checkpoint size. */
  readonly bytes: number;
  readonly iterations: number;
  /** `write` (including retention), `read` of one checkpoint by name, and `latest`: p50/p99 in ms. */
  readonly write: { readonly p50: number; readonly p99: number };
  readonly read: { readonly p50: number; readonly p99: number };
  readonly latest: { readonly p50: number; readonly p99: number };
}

/** A checkpoint as the engine writes it: an offset per partition and a planned batch covering every partition. */
export function benchCheckpoint(appId: string, epoch: number, seq: number, partitions: number): Checkpoint {
  const offsets: Record<string, number> = {};
  const ranges = [];
  for (let p = 0; p < partitions; p++) {
    offsets[String(p)] = 1_000_000 + seq * 500 + p;
    ranges.push({ source: 'events', partition: String(p), from: 1_000_000 + (seq - 1) * 500 + p, until: 1_000_000 + seq * 500 + p });
  }
  const time = 1_700_000_000_000 + seq * 1000;
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    appId,
    epoch,
    seq,
    writtenAt: time,
    batchIntervalMs: 1000,
    sources: { events: { offsets } },
    operators: { counts: { snapshot: `e${String(epoch).padStart(10, '0')}/counts`, snapshotBatchTime: time - 1000 } },
    batches: [{ time, completed: false, ranges }],
    lastCompletedTime: time - 1000,
    blobs: [`e${String(epoch).padStart(10, '0')}/counts`],
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
};

/** Measures a store: `iterations` timed writes (after a warm-up), then as many reads and `latest` calls. */
export async function benchmarkCheckpointStore(
  store: CheckpointStore,
  options: { partitions: number; iterations?: number; warmup?: number },
): Promise<CheckpointLatency> {
  const iterations = options.iterations ?? 200;
  const appId = randomAppId('bench');
  const epoch = await store.acquireEpoch(appId);
  const time = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };
  let seq = 0;
  for (let i = 0; i < (options.warmup ?? 20); i++) await store.write(benchCheckpoint(appId, epoch, ++seq, options.partitions));
  const writes: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const checkpoint = benchCheckpoint(appId, epoch, ++seq, options.partitions);
    writes.push(await time(() => store.write(checkpoint)));
  }
  const name = checkpointName(benchCheckpoint(appId, epoch, seq, options.partitions));
  const reads: number[] = [];
  const latests: number[] = [];
  for (let i = 0; i < iterations; i++) reads.push(await time(() => store.read(appId, name)));
  for (let i = 0; i < iterations; i++) latests.push(await time(() => store.latest(appId)));
  return {
    partitions: options.partitions,
    bytes: encodeCheckpoint(benchCheckpoint(appId, epoch, seq, options.partitions)).length,
    iterations,
    write: summary(writes),
    read: summary(reads),
    latest: summary(latests),
  };
}

/** The results as a Markdown table, for READMEs. */
export function formatCheckpointLatency(results: readonly CheckpointLatency[]): string {
  const ms = (v: number) => v.toFixed(2);
  return [
    '| partitions | size (bytes) | write p50 / p99 (ms) | read p50 / p99 (ms) | latest p50 / p99 (ms) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.partitions} | ${r.bytes} | ${ms(r.write.p50)} / ${ms(r.write.p99)} | ${ms(r.read.p50)} / ${ms(r.read.p99)} | ${ms(r.latest.p50)} / ${ms(r.latest.p99)} |`,
    ),
  ].join('\n');
}

/** What each store's own benchmark prints: the latency table for 64 and 1024 partitions (or those given). */
export async function checkpointLatencyReport(
  store: CheckpointStore,
  options: { partitions?: readonly number[]; iterations?: number; warmup?: number } = {},
): Promise<string> {
  const { partitions = [64, 1024], ...timing } = options;
  const results: CheckpointLatency[] = [];
  for (const count of partitions) results.push(await benchmarkCheckpointStore(store, { partitions: count, ...timing }));
  return formatCheckpointLatency(results);
}
