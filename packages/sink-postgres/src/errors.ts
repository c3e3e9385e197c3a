import { MicrobatchError } from '@microbatch/core';

/** The fields node-postgres and PGlite both put on a server error. */
interface PgErrorFields {
  code?: string;
  constraint?: string;
  table?: string;
  detail?: string;
}

function fields(error: unknown): PgErrorFields {
  return typeof error === 'object' && error !== null ? (error as PgErrorFields) : {};
}

/** SQLSTATEs worth retrying the whole transaction for: the same statements may well succeed. */
const RETRYABLE_STATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown (server restarting)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (server starting up)
  '53300', // too_many_connections
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH']);

/** Connection loss, a restarting server, serialization failures and deadlocks: retried with backoff. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof MicrobatchError) return false;
  const code = fields(error).code;
  if (code && (RETRYABLE_STATES.has(code) || code.startsWith('08') || NETWORK_CODES.has(code))) return true;
  const message = error instanceof Error ? error.message : '';
  // node-postgres reports a dropped socket without a code.
  return /Connection terminated|connection error|not queryable|Client was closed/i.test(message);
}

/** Class 23: integrity constraint violation (unique, foreign key, not null, check, exclusion). */
export function isConstraintViolation(error: unknown): boolean {
  return fields(error).code?.startsWith('23') ?? false;
}

/**
 * Wraps a failure of one output write so it names the output and the batch; a MicrobatchError
 * (FencedError above all) keeps its code, since callers branch on it.
 */
export function sinkError(error: unknown, where: { output: string; batchTime: number; partitionId?: number }): MicrobatchError {
  if (error instanceof MicrobatchError) return error;
  const f = fields(error);
  const at = where.partitionId === undefined ? `batch ${where.batchTime}` : `batch ${where.batchTime} partition ${where.partitionId}`;
  const reason = isConstraintViolation(error)
    ? `a row violates constraint ${f.constraint ?? f.code}${f.table ? ` on ${f.table}` : ''}; nothing of this transaction was written`
    : error instanceof Error
      ? error.message
      : String(error);
  return new MicrobatchError('SINK_FAILED', `Output "${where.output}" failed writing ${at}: ${reason}`, {
    cause: error,
    details: {
      output: where.output,
      batchTime: where.batchTime,
      ...(where.partitionId === undefined ? {} : { partitionId: where.partitionId }),
      ...(f.code ? { sqlState: f.code } : {}),
      ...(f.constraint ? { constraint: f.constraint } : {}),
      ...(f.detail ? { detail: f.detail } : {}),
    },
  });
}
