import type { ResolvedWatermark } from './options.js';

/** What the watermark knows of one source partition: its newest event time and how long it has been idle. */
export interface PartitionProgress {
  /** Newest event time seen, or null before the partition brought any record. */
  readonly max: number | null;
  /** Consecutive batches without a record (with a finite event time). */
  readonly idle: number;
}

/**
 * The watermark state, saved with the operator's snapshot: batch t's watermark is `watermark`
 * as it stood after batch t-1, so it is a function of the batches before t only, and a replay of
 * t (restored from the snapshot and the log, §8) sees the same value. JSON-safe: null is "none".
 */
export interface WatermarkState {
  /** The watermark the next batch uses; null until there is one (nothing is late then). */
  readonly watermark: number | null;
  /** Per source partition (its `source:partition` names), in first-seen order. */
  readonly partitions: Readonly<Record<string, PartitionProgress>>;
}

export const initialWatermark = (): WatermarkState => ({ watermark: null, partitions: {} });

/** One batch's observation of one source partition: the newest finite event time in it, or null. */
export type BatchObservation = ReadonlyMap<string, number | null>;

/**
 * The watermark state after a batch (docs/semantics.md §9):
 * - a partition with records moves its newest event time up and is active again;
 * - a partition without records (or missing from the batch) counts one more idle batch;
 * - the watermark is the smallest newest event time over the active partitions (idle < N) minus
 *   the delay; an active partition that never brought a record holds it where it is; when every
 *   partition is idle, the largest newest event time minus the delay (so idle input closes its
 *   windows instead of holding them forever);
 * - it never goes back.
 */
export function advanceWatermark(state: WatermarkState, observed: BatchObservation, spec: ResolvedWatermark): WatermarkState {
  const partitions: Record<string, PartitionProgress> = {};
  for (const [name, progress] of Object.entries(state.partitions)) {
    const seen = observed.get(name);
    partitions[name] = seen === undefined || seen === null ? { max: progress.max, idle: progress.idle + 1 } : { max: progress.max === null ? seen : Math.max(progress.max, seen), idle: 0 };
  }
  for (const [name, seen] of observed) {
    if (!(name in partitions)) partitions[name] = seen === null ? { max: null, idle: 1 } : { max: seen, idle: 0 };
  }
  const all = Object.values(partitions);
  const active = all.filter((p) => p.idle < spec.idleAfterBatches);
  let candidate: number | null = null;
  if (active.length > 0) {
    if (active.every((p) => p.max !== null)) candidate = Math.min(...active.map((p) => p.max!)) - spec.delayMs;
  } else {
    const known = all.filter((p) => p.max !== null).map((p) => p.max!);
    if (known.length > 0) candidate = Math.max(...known) - spec.delayMs;
  }
  const watermark = candidate === null ? state.watermark : state.watermark === null ? candidate : Math.max(state.watermark, candidate);
  return { watermark, partitions };
}

/** Late: at or below the watermark of its batch. */
export const isLate = (eventTime: number, watermark: number | null): boolean => watermark !== null && eventTime <= watermark;
