import type { Source } from '@microbatch/core';
import { MemoryLog, createMemoryLogSource } from './memory-log.js';
import { assertName, capField } from './validate.js';

export interface QueueSource<T> extends Source<T> {
  /** Queues one batch's worth of records. */
  push(records: readonly T[]): void;
}

/**
 * Spark's queueStream: each pushed array becomes (by default) one batch. Pushed arrays are kept,
 * so a batch replayed within the process reads the same records.
 */
export function createQueueSource<T>(options: { name: string; oneAtATime?: boolean }): QueueSource<T> {
  assertName(options.name);
  const queue = new MemoryLog<readonly T[]>(1);
  const inner = createMemoryLogSource(queue, {
    name: options.name,
    ...(options.oneAtATime === false ? {} : { maxRecordsPerPartition: 1 }),
  });
  return {
    name: options.name,
    ...capField(inner.maxRecordsPerPartition),
    push(records) {
      queue.append(0, [...records]);
    },
    latestOffsets: () => inner.latestOffsets(),
    startOffsets: (partitions, reason) => inner.startOffsets(partitions, reason),
    async read(range, context) {
      return (await inner.read(range, context)).flatMap((r) => r.value);
    },
  };
}
