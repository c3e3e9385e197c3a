import { fnv1a } from '@microbatch/core';
import type { Message } from 'kafkajs';

/**
 * The layout of the progress topic (compacted). Keys and values are JSON text, so they can be read
 * with any console consumer:
 *
 * - commit record, one per (app, output, batch time, partition), written in the same transaction
 *   as that partition's output records:
 *   key `["c", appId, output, batchTime, partition]`, value `{"v":1,"epoch":E,"records":N,"numPartitions":P}`
 * - claim record, one per transactional id, written when a producer takes that id over:
 *   key `["e", appId, output, slot]` (slot `"batch"` or the partition number), value `{"v":1,"epoch":E}`
 * - a tombstone (null value) of a commit key: `retire` pruned it.
 *
 * Every record of one (app, output) goes to one partition of the topic (`progressPartition`), so
 * reading an output's progress reads one partition. A commit key is written again, with the same
 * value, when a replay of a committed partition proves it still owns the transactional id.
 */
export type ProgressRecord =
  | { readonly kind: 'commit'; readonly appId: string; readonly output: string; readonly batchTime: number; readonly partition: number; readonly epoch: number | undefined }
  | { readonly kind: 'claim'; readonly appId: string; readonly output: string; readonly slot: string; readonly epoch: number };

export const PROGRESS_FORMAT_VERSION = 1;

export function progressPartition(appId: string, output: string, partitions: number): number {
  return fnv1a(`${appId}\u0000${output}`) % partitions;
}

export function commitMessage(appId: string, output: string, batchTime: number, partition: number, value: { epoch: number; records: number; numPartitions: number }, topicPartition: number): Message {
  return { key: JSON.stringify(['c', appId, output, batchTime, partition]), value: JSON.stringify({ v: PROGRESS_FORMAT_VERSION, ...value }), partition: topicPartition };
}

export function tombstoneMessage(appId: string, output: string, batchTime: number, partition: number, topicPartition: number): Message {
  return { key: JSON.stringify(['c', appId, output, batchTime, partition]), value: null, partition: topicPartition };
}

export function claimMessage(appId: string, output: string, slot: string, epoch: number, topicPartition: number): Message {
  return { key: JSON.stringify(['e', appId, output, slot]), value: JSON.stringify({ v: PROGRESS_FORMAT_VERSION, epoch }), partition: topicPartition };
}

/**
 * Parses a progress record; undefined for records of other formats (the topic may be shared with
 * a newer version of the sink, whose records this one does not understand and must not misread).
 * A commit tombstone parses with `epoch: undefined`.
 */
export function parseProgress(key: Buffer | null, value: Buffer | null): ProgressRecord | undefined {
  if (key === null) return undefined;
  let k: unknown;
  try {
    k = JSON.parse(key.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(k) || typeof k[1] !== 'string' || typeof k[2] !== 'string') return undefined;
  let v: { v?: unknown; epoch?: unknown } | null = null;
  if (value !== null) {
    try {
      v = JSON.parse(value.toString('utf8')) as { v?: unknown; epoch?: unknown };
    } catch {
      return undefined;
    }
    if (v?.v !== PROGRESS_FORMAT_VERSION || typeof v.epoch !== 'number') return undefined;
  }
  if (k[0] === 'c' && typeof k[3] === 'number' && typeof k[4] === 'number') {
    return { kind: 'commit', appId: k[1], output: k[2], batchTime: k[3], partition: k[4], epoch: v === null ? undefined : (v.epoch as number) };
  }
  if (k[0] === 'e' && typeof k[3] === 'string' && v !== null) return { kind: 'claim', appId: k[1], output: k[2], slot: k[3], epoch: v.epoch as number };
  return undefined;
}

/** What the progress topic says about one (app, output). */
export class OutputProgress {
  /** batch time -> committed partitions. */
  readonly committed = new Map<number, Set<number>>();
  /** The highest microbatch epoch that claimed any transactional id of this output. */
  highestClaim = 0;

  apply(record: ProgressRecord): void {
    if (record.kind === 'claim') {
      this.highestClaim = Math.max(this.highestClaim, record.epoch);
      return;
    }
    if (record.epoch === undefined) {
      const parts = this.committed.get(record.batchTime);
      parts?.delete(record.partition);
      if (parts?.size === 0) this.committed.delete(record.batchTime);
      return;
    }
    this.markCommitted(record.batchTime, [record.partition]);
  }

  markCommitted(batchTime: number, partitions: Iterable<number>): void {
    const parts = this.committed.get(batchTime) ?? new Set<number>();
    for (const p of partitions) parts.add(p);
    this.committed.set(batchTime, parts);
  }

  isCommitted(batchTime: number, partition: number): boolean {
    return this.committed.get(batchTime)?.has(partition) ?? false;
  }

  newestBatch(): number | undefined {
    let newest: number | undefined;
    for (const t of this.committed.keys()) if (newest === undefined || t > newest) newest = t;
    return newest;
  }
}
