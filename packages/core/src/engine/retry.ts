import { isMicrobatchError, type MicrobatchErrorCode } from '../errors.js';

/**
 * Failures that will fail the same way on every attempt: retrying them only delays the stop.
 * (A sink's constraint violation is retried on purpose: the issue may be a concurrent writer.)
 */
const DETERMINISTIC: ReadonlySet<MicrobatchErrorCode> = new Set([
  'FENCED',
  'OFFSET_OUT_OF_RANGE',
  'DESERIALIZATION_FAILED',
  'INVALID_RECORD',
  'STATE_ENCODE_FAILED',
  'INVALID_OPTION',
  'GRAPH_MISMATCH',
  'CHECKPOINT_UNSUPPORTED_VERSION',
]);

export function isRetryable(error: unknown): boolean {
  return !(isMicrobatchError(error) && DETERMINISTIC.has(error.code));
}
import type { Clock } from './clock.js';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
}

/** Exponential backoff: backoffMs, 2x, 4x... capped at backoffMaxMs. */
export function backoffDelay(policy: Pick<RetryPolicy, 'backoffMs' | 'backoffMaxMs'>, attempt: number): number {
  return Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** (attempt - 1));
}

/**
 * Runs `fn` until it succeeds or the attempts are used up. A fencing error is never retried (a
 * newer process owns the application, and this one must stop), nor is any other deterministic one.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onFailure: (error: unknown, attempt: number, willRetry: boolean) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const willRetry = attempt < policy.maxAttempts && isRetryable(error) && !policy.signal.aborted;
      onFailure(error, attempt, willRetry);
      if (!willRetry) throw error;
      await policy.clock.sleep(backoffDelay(policy, attempt), policy.signal);
    }
  }
}
