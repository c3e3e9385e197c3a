import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@microbatch/core';
import { isRetryable } from './errors.js';

export interface RetryOptions {
  /** Attempts in all, the first included. Default 8. */
  readonly attempts?: number;
  /** First backoff in ms, doubled each time, with jitter. Default 100. */
  readonly baseDelayMs?: number;
  /** Backoff cap in ms. Default 5000 (8 attempts wait ~11 s in all: long enough for a failover). */
  readonly maxDelayMs?: number;
}

/**
 * Runs `fn` again when it failed for a reason a new attempt can fix (see `isRetryable`).
 * Safe for the sinks' transactions only because each one is atomic and idempotent: a COMMIT
 * whose acknowledgement was lost is found by its marker on the next attempt and skipped.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions & { logger?: Logger; signal?: AbortSignal; what?: string } = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  const base = options.baseDelayMs ?? 100;
  const cap = options.maxDelayMs ?? 5000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || !isRetryable(error) || options.signal?.aborted) throw error;
      const delay = Math.min(cap, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
      options.logger?.warn({ err: error, attempt, delayMs: Math.round(delay), what: options.what }, 'postgres write failed; retrying');
      await sleep(delay);
    }
  }
}
