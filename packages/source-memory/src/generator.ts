import type { PartitionOffsets, Source } from '@microbatch/core';
import { invalidOption } from '@microbatch/core';
import { assertName, assertReadable, capField, partitionIndex, positiveInteger } from './validate.js';

export interface GeneratorSourceOptions<T> {
  /** Stable source name. Required. */
  name: string;
  /** Number of partitions. Required. */
  partitions: number;
  /**
   * Records per partition (the same for all, or per partition index); the source ends there.
   * Required (use Number.MAX_SAFE_INTEGER for "endless").
   */
  recordsPerPartition: number | ((partition: number) => number);
  /** Passed to `generate`; change it to get other data. Default 0. */
  seed?: number;
  /** The record at (partition, offset): must be a pure function of its arguments. Required. */
  generate: (args: { seed: number; partition: number; offset: number }) => T;
  /**
   * Records per partition per second made available since `open()`; default: all at once.
   * Availability may differ between runs, contents never do.
   */
  ratePerPartition?: number;
  /** Cap of records per partition per batch. Default: the context's. */
  maxRecordsPerPartition?: number;
  /** Clock for the rate. Default Date.now. */
  now?: () => number;
}

/**
 * A deterministic source: record = generate(seed, partition, offset). A new process replays
 * exactly the same data after a kill, so crash tests need no external log.
 */
export function createGeneratorSource<T>(options: GeneratorSourceOptions<T>): Source<T> {
  assertName(options.name);
  const { name } = options;
  const partitions = positiveInteger('partitions', options.partitions);
  const perPartition = options.recordsPerPartition;
  const totals = Array.from({ length: partitions }, (_, p) =>
    positiveInteger('recordsPerPartition', typeof perPartition === 'function' ? perPartition(p) : perPartition, 0),
  );
  if (typeof options.generate !== 'function') throw invalidOption('generate', 'must be a function (seed, partition, offset) => record');
  const seed = options.seed ?? 0;
  const rate = options.ratePerPartition === undefined ? undefined : positiveInteger('ratePerPartition', options.ratePerPartition);
  const now = options.now ?? Date.now;
  let openedAt: number | undefined;
  const available = (partition: number): number => {
    const total = totals[partition]!;
    if (rate === undefined) return total;
    openedAt ??= now();
    return Math.min(total, Math.floor(((now() - openedAt) * rate) / 1000));
  };
  return {
    name,
    ...capField(options.maxRecordsPerPartition),
    async open() {
      openedAt = now();
    },
    async latestOffsets(): Promise<PartitionOffsets> {
      return Object.fromEntries(Array.from({ length: partitions }, (_, p) => [String(p), available(p)]));
    },
    async startOffsets(ids) {
      return Object.fromEntries(ids.map((p) => [p, 0]));
    },
    async read(range) {
      const partition = partitionIndex(name, range.partition, partitions);
      assertReadable(name, range, 0, totals[partition]!);
      const records: T[] = [];
      for (let offset = range.from; offset < range.until; offset++) records.push(options.generate({ seed, partition, offset }));
      return records;
    },
  };
}
