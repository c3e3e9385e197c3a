import { MemoryLog, createMemoryLogSource, type MemoryRecord } from '@microbatch/source-memory';
import {
  StreamingContext,
  createMemoryCheckpointStore,
  createVirtualClock,
  silentLogger,
  type DStream,
  type StreamingContextOptions,
} from '../src/index.js';

export const START = 1_700_000_000_000;

let counter = 0;
export const uniqueAppId = (prefix = 'app') => `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

/** A context on an in-memory store and a virtual clock that runs until the input is drained. */
export function testContext(overrides: Partial<StreamingContextOptions> = {}): StreamingContext {
  return new StreamingContext({
    appId: uniqueAppId(),
    batchIntervalMs: 1000,
    checkpoint: createMemoryCheckpointStore(),
    clock: createVirtualClock(START),
    stopWhenIdle: true,
    stopOnSignals: false,
    retryBackoffMs: 10,
    logger: silentLogger,
    ...overrides,
  });
}

export function logOf<T>(partitions: T[][]): MemoryLog<T> {
  const log = new MemoryLog<T>(partitions.length);
  partitions.forEach((records, p) => log.append(p, ...records));
  return log;
}

/**
 * Runs `build` over a memory log holding `partitions` and returns every batch's records (in
 * partition order), batches in time order, the last (empty, idle) batch dropped.
 */
export async function collectBatches<T, U>(
  partitions: T[][],
  build: (stream: DStream<T>) => DStream<U>,
  options: Partial<StreamingContextOptions> = {},
): Promise<U[][]> {
  const ssc = testContext(options);
  const values = ssc.source(createMemoryLogSource(logOf(partitions), { name: 'input' })).map((r: MemoryRecord<T>) => r.value);
  const batches: U[][] = [];
  build(values).foreachBatch(async (batch) => {
    batches.push(await batch.collect());
  });
  await ssc.start();
  await ssc.awaitTermination();
  return batches.slice(0, -1);
}

/** Sorted JSON lines: compares multisets of records regardless of order. */
export const multiset = (records: readonly unknown[]) => records.map((r) => JSON.stringify(r)).sort();
