import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, isMicrobatchError, type Logger } from '@microbatch/core';

export interface RetryPolicy {
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNABORTED']);

/** 5xx, throttling, timeouts and network failures pass; 4xx answers (and missing credentials) do not. */
export function isRetryable(error: unknown): boolean {
  if (isMicrobatchError(error)) return false;
  const e = error as { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  if (e.name === 'CredentialsProviderError') return false;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429 || status === 408 || Boolean(e.$retryable);
  return NETWORK_CODES.has(e.code ?? '') || e.name === 'TimeoutError' || e.name === 'AbortError' || /socket|network|connect/i.test(String((error as Error)?.message));
}

/**
 * Runs `fn`, retrying retryable failures with exponential backoff (on top of the SDK's own short
 * retries) so an S3 endpoint that is away for a few seconds is ridden out; then fails with
 * CHECKPOINT_STORE_UNAVAILABLE. Conditional writes make every retried request safe to repeat.
 */
export async function withRetries<T>(policy: RetryPolicy, logger: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (!isRetryable(error) || attempt >= policy.maxRetries) {
        if (isMicrobatchError(error)) throw error;
        throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `S3 checkpoint store: ${what} failed: ${describe(error)}`, {
          cause: error,
          details: { what, attempts: attempt + 1, status: (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode },
        });
      }
      logger.debug({ err: error, what, attempt: attempt + 1 }, 's3 request failed; retrying');
      await sleep(Math.min(policy.retryDelayMs * 2 ** attempt, policy.maxRetryDelayMs));
    }
  }
}

function describe(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string };
  return [e.name, e.code, e.message].filter(Boolean).join(': ');
}
