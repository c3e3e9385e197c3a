import type { PartitionOffsets, Source } from '@microbatch/core';
import { invalidOption } from '@microbatch/core';
import type { MemoryRecord } from './record.js';
import { assertName, assertReadable, capField, partitionIndex, positiveInteger } from './validate.js';

/**
 * A partitioned, append-only log in process memory, with offsets: a Kafka topic in miniature.
 * Replayable for as long as the process lives (or the log object is shared).
 */
export class MemoryLog<T> {
  private readonly partitions: T[][];

  constructor(partitions = 1) {
    positiveInteger('partitions', partitions);
    this.partitions = Array.from({ length: partitions }, () => []);
  }

  get partitionCount(): number {
    return this.partitions.length;
  }

  /** Appends to one partition; returns the offset of the first record appended. */
  append(partition: number, ...records: T[]): number {
    const log = this.partitions[partition];
    if (!log) throw invalidOption('partition', `the log has partitions 0..${this.partitions.length - 1}`, partition);
    const first = log.length;
    log.push(...records);
    return first;
  }

  /** Adds a partition (like adding partitions to a Kafka topic) and returns its index. */
  addPartition(): number {
    this.partitions.push([]);
    return this.partitions.length - 1;
  }

  endOffset(partition: number): number {
    return this.partitions[partition]?.length ?? 0;
  }

  slice(partition: number, from: number, until: number): T[] {
    return (this.partitions[partition] ?? []).slice(from, until);
  }
}

export interface MemoryLogSourceOptions {
  /** Stable source name. Required. */
  name: string;
  /** Where partitions without a checkpoint start: 'earliest' (default) or 'latest'. */
  startingOffsets?: 'earliest' | 'latest';
  /** Cap of records per partition per batch. Default: the context's. */
  maxRecordsPerPartition?: number;
}

/** A source over a MemoryLog; partition ids are "0", "1", ... */
export function createMemoryLogSource<T>(log: MemoryLog<T>, options: MemoryLogSourceOptions): Source<MemoryRecord<T>> {
  assertName(options.name);
  const { name } = options;
  const starting = options.startingOffsets ?? 'earliest';
  if (starting !== 'earliest' && starting !== 'latest') {
    throw invalidOption('startingOffsets', "must be 'earliest' or 'latest'", starting);
  }
  const ends = (): PartitionOffsets =>
    Object.fromEntries(Array.from({ length: log.partitionCount }, (_, p) => [String(p), log.endOffset(p)]));
  return {
    name,
    ...capField(options.maxRecordsPerPartition),
    async latestOffsets() {
      return ends();
    },
    async startOffsets(partitions, reason) {
      const latest = ends();
      // Partitions discovered while running start at their beginning, so nothing added to them is missed.
      return Object.fromEntries(partitions.map((p) => [p, starting === 'latest' && reason === 'initial' ? (latest[p] ?? 0) : 0]));
    },
    async read(range) {
      const index = partitionIndex(name, range.partition, log.partitionCount);
      assertReadable(name, range, 0, log.endOffset(index));
      return log.slice(index, range.from, range.until).map((value, i) => ({ partition: range.partition, offset: range.from + i, value }));
    },
  };
}
