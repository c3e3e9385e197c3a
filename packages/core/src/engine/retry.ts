import type { Logger } from '../api/logger.js';
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
  'CHECKPOINT_CORRUPT',
  'CHECKPOINT_BEHIND_SINK',
  'CHECKPOINT_LAYOUT_MISMATCH',
]);

export function isRetryable(error: unknown): boolean {
  return !(isMicrobatchError(error) && DETERMINISTIC.has(error.code));
}
import type { Clock } from './clock.js';

export interface RetryPolicy {
  /** Attempts always made before giving up on a transient error. */
  readonly maxAttempts: number;
  /**
   * Transient errors are retried past `maxAttempts` until this long after the first failure, so an
   * outage of a broker, database or store (a restart, a failover) is ridden out.
   */
  readonly timeoutMs: number;
  readonly backoffMs: number;
  readonly backoffMaxMs: number;
  readonly clock: Clock;
  readonly signal: AbortSignal;
}

/** Exponential backoff: backoffMs, 2x, 4x... capped at backoffMaxMs. */
export function backoffDelay(policy: Pick<RetryPolicy, 'backoffMs' | 'backoffMaxMs'>, attempt: number): number {
  return Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** (attempt - 1));
}

/** What a retry loop tells its caller about each failed attempt, for one clear log line. */
export interface RetryFailure {
  readonly attempt: number;
  readonly willRetry: boolean;
  /** Delay before the next attempt, when there is one. */
  readonly retryInMs?: number;
  /** How long transient failures are still retried (the rest of `timeoutMs`), when retrying. */
  readonly retryingForMs?: number;
}

/**
 * Runs `fn` until it succeeds. A failure is retried with backoff while it is transient and either
 * fewer than `maxAttempts` attempts were made or less than `timeoutMs` has passed since the first
 * failure. A fencing error is never retried (a newer process owns the application, and this one
 * must stop), nor is any other deterministic one: those fail the same way on every attempt.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  fn: (attempt: number) => Promise<T>,
  onFailure: (error: unknown, failure: RetryFailure) => void,
): Promise<T> {
  let firstFailure: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const now = policy.clock.now();
      firstFailure ??= now;
      const left = policy.timeoutMs - (now - firstFailure);
      const willRetry = isRetryable(error) && !policy.signal.aborted && (attempt < policy.maxAttempts || left > 0);
      const retryInMs = backoffDelay(policy, attempt);
      onFailure(error, willRetry ? { attempt, willRetry, retryInMs, retryingForMs: Math.max(0, left) } : { attempt, willRetry });
      if (!willRetry) throw error;
      await policy.clock.sleep(retryInMs, policy.signal);
    }
  }
}

/** A call to a source, sink or checkpoint store, retried by the policy; `what` names it in the log line. */
export type RetryingCall = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export function retryingCall(policy: RetryPolicy, logger: Logger): RetryingCall {
  return (what, fn) =>
    withRetries(policy, fn, (error, failure) =>
      logger.warn(
        { err: error, ...failure },
        failure.willRetry
          ? `${what} failed; retrying in ${failure.retryInMs} ms (transient failures are retried for ${Math.round(failure.retryingForMs! / 1000)} s more)`
          : `${what} failed; giving up`,
      ),
    );
}
