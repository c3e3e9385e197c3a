import type { MicrobatchError } from '../../errors.js';

/**
 * A record that did not go into a window: late (event time at or below the watermark of its
 * batch) or without a usable event time. Deterministic under replay, so a transactional sink
 * writes each exactly once, like a dead letter.
 */
export type LateRecord<T> =
  | {
      readonly reason: 'late';
      readonly record: T;
      readonly eventTime: number;
      /** The watermark of the batch: eventTime <= watermark. */
      readonly watermark: number;
      readonly batchTime: number;
    }
  | {
      readonly reason: 'invalid-event-time';
      readonly record: T;
      /** The extractor's result as text (NaN, Infinity, a string...). */
      readonly eventTime: string;
      readonly watermark: number | null;
      readonly batchTime: number;
      /** INVALID_RECORD, naming the operator, batch and partition. */
      readonly error: MicrobatchError;
    };

/** Per-batch counts of what did not go into a window, by what happened to it. */
export interface LateCounts {
  readonly late: number;
  readonly invalidEventTime: number;
  readonly dropped: number;
}
