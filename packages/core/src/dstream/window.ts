import type { Batch } from '../batch.js';
import type { BatchGeneration } from './generation.js';

/** A window stream has a batch only at multiples of its slide (absolute times, stable across restarts). */
export function isSlideTime(time: number, slideMs: number): boolean {
  return time % slideMs === 0;
}

/** The parent's batches at the batch times in (end - lengthMs, end], oldest first; times without a batch are left out. */
export function batchesIn<T>(
  parentBatchFor: (generation: BatchGeneration) => Batch<T> | undefined,
  generation: BatchGeneration,
  end: number,
  lengthMs: number,
  intervalMs: number,
): Batch<T>[] {
  const batches: Batch<T>[] = [];
  for (let time = end - lengthMs + intervalMs; time <= end; time += intervalMs) {
    const past = time === generation.time ? generation : generation.at(time);
    const batch = past && parentBatchFor(past);
    if (batch) batches.push(batch);
  }
  return batches;
}
