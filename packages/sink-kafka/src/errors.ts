import { FencedError, MicrobatchError, invalidOption } from '@microbatch/core';

/** Where a failure happened, for messages and `details`. */
export interface Where {
  readonly output: string;
  readonly batchTime?: number;
  readonly partitionId?: number;
}

/** The kafkajs errors along a chain: kafkajs wraps protocol errors in retry errors through `cause` (or `originalError`). */
function chain(error: unknown): Array<{ type?: string; code?: number; name?: string; message?: string }> {
  const seen: Array<{ type?: string; code?: number; name?: string; message?: string }> = [];
  let current: unknown = error;
  while (typeof current === 'object' && current !== null && seen.length < 10) {
    const e = current as { type?: string; code?: number; name?: string; message?: string; cause?: unknown; originalError?: unknown };
    seen.push(e);
    current = e.cause ?? e.originalError;
  }
  return seen;
}

const hasType = (error: unknown, types: readonly string[], codes: readonly number[]) =>
  chain(error).some((e) => (e.type !== undefined && types.includes(e.type)) || (typeof e.code === 'number' && codes.includes(e.code)));

/**
 * The producer's epoch is not the transactional id's current one: another producer initialized the
 * same transactional id (a zombie or the next owner), or the broker aborted a transaction that
 * outlived `transaction.timeout.ms` (KIP-588). Kafka 2.7+ says PRODUCER_FENCED (90) to new clients
 * and INVALID_PRODUCER_EPOCH (47) to the older request versions kafkajs 2.2 sends.
 */
export function isProducerFenced(error: unknown): boolean {
  return hasType(error, ['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING'], [47, 49, 90]);
}

export function isTooLarge(error: unknown): boolean {
  return hasType(error, ['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'], [10, 18]);
}

export function isUnknownTopic(error: unknown): boolean {
  return hasType(error, ['UNKNOWN_TOPIC_OR_PARTITION'], [3]);
}

function isUnreachable(error: unknown): boolean {
  return chain(error).some(
    (e) => e.name === 'KafkaJSConnectionError' || e.name === 'KafkaJSConnectionClosedError' || e.name === 'KafkaJSRequestTimeoutError' || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|Connection error|Failed to connect/i.test(e.message ?? ''),
  );
}

const at = (where: Where) =>
  where.batchTime === undefined ? '' : where.partitionId === undefined ? ` batch ${where.batchTime}` : ` batch ${where.batchTime} partition ${where.partitionId}`;

const detailsOf = (where: Where, extra: Record<string, unknown> = {}) => ({
  output: where.output,
  ...(where.batchTime === undefined ? {} : { batchTime: where.batchTime }),
  ...(where.partitionId === undefined ? {} : { partitionId: where.partitionId }),
  ...extra,
});

/** A serializer threw, or returned something that is not bytes: deterministic, so never retried. */
export function serializerError(where: Where, field: string, index: number, cause: unknown): MicrobatchError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new MicrobatchError('INVALID_RECORD', `Output "${where.output}"${at(where)}: the ${field} serializer failed on record ${index}: ${reason}; nothing of this transaction was written`, {
    cause,
    details: detailsOf(where, { field, index }),
  });
}

export function tooLargeError(where: Where, topic: string, bytes: number, limit: number, cause?: unknown): MicrobatchError {
  return new MicrobatchError(
    'INVALID_RECORD',
    `Output "${where.output}"${at(where)}: a record of ${bytes} bytes exceeds topic ${topic}'s max.message.bytes (${limit}); the transaction was aborted, nothing was written`,
    { cause, details: detailsOf(where, { topic, bytes, maxMessageBytes: limit, reason: 'record-too-large' }) },
  );
}

export function unknownTopicError(where: Where, topic: string, cause?: unknown): MicrobatchError {
  return new MicrobatchError('SINK_FAILED', `Output "${where.output}"${at(where)}: topic ${topic} does not exist (the sink never creates output topics); nothing was written`, {
    cause,
    details: detailsOf(where, { topic, reason: 'unknown-topic' }),
  });
}

export function fencedError(where: Where, appId: string, epoch: number, currentEpoch: number): FencedError {
  return new FencedError(`Output "${where.output}" of app ${appId}: epoch ${epoch} is older than epoch ${currentEpoch}, which claimed it; this process is a zombie`, {
    epoch,
    currentEpoch,
    details: detailsOf(where, { appId }),
  });
}

/**
 * Any other failure of a transaction, as SINK_FAILED naming the output and batch (transient: the
 * engine retries the batch). A MicrobatchError keeps its code, since callers branch on it.
 */
export function sinkError(error: unknown, where: Where): MicrobatchError {
  if (error instanceof MicrobatchError) return error;
  if (hasType(error, ['INVALID_TRANSACTION_TIMEOUT'], [50])) {
    const e = invalidOption('transactionTimeoutMs', "is larger than the broker's transaction.max.timeout.ms (default 900000)");
    return new MicrobatchError('INVALID_OPTION', e.message, { cause: error, details: e.details });
  }
  const reason = isUnreachable(error) ? 'broker-unreachable' : isProducerFenced(error) ? 'producer-fenced' : 'kafka-error';
  const message = error instanceof Error ? error.message : String(error);
  const what = reason === 'broker-unreachable' ? `no broker reachable (${message})` : message;
  return new MicrobatchError('SINK_FAILED', `Output "${where.output}" failed writing${at(where)}: ${what}; the transaction was aborted, nothing of it is visible to read_committed consumers`, {
    cause: error,
    details: detailsOf(where, { reason }),
  });
}
