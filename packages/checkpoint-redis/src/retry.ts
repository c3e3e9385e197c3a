import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, isMicrobatchError } from '@microbatch/core';

export interface RetryPolicy {
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

// Error replies Redis gives while it starts, fails over or is busy: they pass, so they are retried.
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|READONLY|CLUSTERDOWN|MASTERDOWN|MOVED|ASK)\b/;

function isTransient(error: unknown): boolean {
  if (isMicrobatchError(error)) return false;
  const { name, message } = error as { name?: string; message?: string };
  // Any other error reply (WRONGTYPE, NOSCRIPT handled by the caller, script errors) is permanent.
  if (name === 'ReplyError') return TRANSIENT_REPLY.test(message ?? '');
  return true;
}

/**
 * Runs `fn`, retrying connection failures with exponential backoff while Redis restarts or the
 * network blips; after `maxRetries` it fails with CHECKPOINT_STORE_UNAVAILABLE naming the cause.
 * Every operation it wraps is idempotent, except INCR, whose repeat only skips an epoch number.
 */
export async function withRetries<T>(policy: RetryPolicy, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt >= policy.maxRetries) {
        throw new MicrobatchError(
          'CHECKPOINT_STORE_UNAVAILABLE',
          `Redis checkpoint store: ${what} failed after ${attempt + 1} attempts: ${(error as Error).message}`,
          { cause: error, details: { what, attempts: attempt + 1 } },
        );
      }
      await sleep(Math.min(policy.retryDelayMs * 2 ** attempt, policy.maxRetryDelayMs));
    }
  }
}
