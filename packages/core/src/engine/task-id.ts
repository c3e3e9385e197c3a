import type { Source } from '../api/source.js';
import { MicrobatchError, invalidOption } from '../errors.js';

/**
 * Tasks (docs/semantics.md §10): task N owns partition number N of every source, as Kafka
 * Streams' tasks own one partition number across co-partitioned topics. Its identity never
 * changes: not across rebalances, restarts, or partitions added to a topic (a new partition
 * number is a new task).
 */
export interface TaskScope {
  /** The task's number, which is the partition number it owns. */
  readonly id: number;
  /** The application (group) id the task belongs to. */
  readonly groupAppId: string;
}

/** A task's own namespace in every store and sink: its epoch, checkpoints, state and markers live under it. */
export function taskAppId(groupAppId: string, task: number): string {
  return `${groupAppId}.task-${task}`;
}

/** The partition number of a source's partition key (the source's own rule, or its trailing digits). */
export function partitionNumberOf(source: Source<unknown>, partition: string): number {
  const n = source.partitionNumber ? source.partitionNumber(partition) : Number(/(\d+)$/.exec(partition)?.[1] ?? Number.NaN);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MicrobatchError('SOURCE_FAILED', `Source "${source.name}" partition "${partition}" has no partition number, so no task can own it`, {
      details: { source: source.name, partition },
    });
  }
  return n;
}

export function assertTaskId(task: unknown): asserts task is number {
  if (typeof task !== 'number' || !Number.isSafeInteger(task) || task < 0) throw invalidOption('task', `must be an integer >= 0, got ${String(task)}`, task);
}
