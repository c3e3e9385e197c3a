import { isMicrobatchError } from '../errors.js';
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
 * Runs `fn` until it succeeds or the attempts are used up. A fencing error is never retried: a
 * newer process owns the application, and this one must stop.
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
      const willRetry = attempt < policy.maxAttempts && !isMicrobatchError(error, 'FENCED') && !policy.signal.aborted;
      onFailure(error, attempt, willRetry);
      if (!willRetry) throw error;
      await policy.clock.sleep(backoffDelay(policy, attempt), policy.signal);
    }
  }
}
