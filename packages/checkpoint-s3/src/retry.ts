import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, isMicrobatchError, type Logger } from '@microbatch/core';

export interface RetryPolicy {
  maxRetries: number;
  retryDelayMs: number;
  maxRetryDelayMs: number;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ECONNABORTED']);

/** The HTTP status of an AWS SDK error, undefined when no answer came (network errors). */
export function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

/** 412 Precondition Failed, or 409 when a concurrent conditional write won: another writer was first. */
export function isConflict(error: unknown): boolean {
  const status = httpStatus(error);
  return status === 409 || status === 412;
}

/**
 * 5xx, throttling, timeouts and network failures pass; 4xx answers (and missing credentials) do
 * not, nor 501 Not Implemented: a server that lacks a feature will not grow it in a retry.
 */
export function isRetryable(error: unknown): boolean {
  if (isMicrobatchError(error)) return false;
  const e = error as { name?: string; code?: string; $retryable?: unknown };
  if (e.name === 'CredentialsProviderError') return false;
  const status = httpStatus(error);
  if (status !== undefined) return (status >= 500 && status !== 501) || status === 429 || status === 408 || Boolean(e.$retryable);
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
        throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `S3 checkpoint store: ${what} failed: ${describeS3Error(error)}`, {
          cause: error,
          details: { what, attempts: attempt + 1, status: httpStatus(error) },
        });
      }
      logger.debug({ err: error, what, attempt: attempt + 1 }, 's3 request failed; retrying');
      await sleep(Math.min(policy.retryDelayMs * 2 ** attempt, policy.maxRetryDelayMs));
    }
  }
}

/** The server's answer in one line, e.g. "501 NotImplemented: A header you provided implies...". */
export function describeS3Error(error: unknown): string {
  const e = error as { name?: string; message?: string; code?: string };
  const status = httpStatus(error);
  return [status === undefined ? e.name : `${status} ${e.name}`, e.code, e.message].filter(Boolean).join(': ');
}
