import { createHash } from 'node:crypto';
import { MicrobatchError } from '../errors.js';
import { CHECKPOINT_FORMAT_VERSION, type BatchRecord, type Checkpoint } from './format.js';

/**
 * On-disk form: a JSON envelope with a SHA-256 of the body, so truncated, garbled or
 * hand-edited checkpoints are detected instead of half-trusted. Parsed with JSON.parse only.
 */
interface Envelope {
  formatVersion: number;
  sha256: string;
  body: string;
}

export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const body = JSON.stringify(checkpoint);
  const envelope: Envelope = { formatVersion: CHECKPOINT_FORMAT_VERSION, sha256: sha256(body), body };
  return new TextEncoder().encode(JSON.stringify(envelope));
}

/** Decodes and validates; throws CHECKPOINT_CORRUPT or CHECKPOINT_UNSUPPORTED_VERSION. */
export function decodeCheckpoint(bytes: Uint8Array, where: string): Checkpoint {
  const corrupt = (reason: string, cause?: unknown) =>
    new MicrobatchError('CHECKPOINT_CORRUPT', `Checkpoint ${where} is corrupt: ${reason}`, {
      cause,
      details: { where, reason },
    });
  let envelope: Partial<Envelope>;
  try {
    envelope = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Partial<Envelope>;
  } catch (cause) {
    throw corrupt('not valid JSON (truncated or overwritten?)', cause);
  }
  if (typeof envelope !== 'object' || envelope === null) throw corrupt('not a checkpoint envelope');
  if (envelope.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    if (typeof envelope.formatVersion === 'number') {
      throw new MicrobatchError(
        'CHECKPOINT_UNSUPPORTED_VERSION',
        `Checkpoint ${where} has formatVersion ${envelope.formatVersion}; this version of microbatch reads ${CHECKPOINT_FORMAT_VERSION}`,
        { details: { where, formatVersion: envelope.formatVersion } },
      );
    }
    throw corrupt('missing formatVersion');
  }
  if (typeof envelope.body !== 'string' || typeof envelope.sha256 !== 'string') throw corrupt('missing body or checksum');
  if (sha256(envelope.body) !== envelope.sha256) throw corrupt('checksum mismatch');
  let body: unknown;
  try {
    body = JSON.parse(envelope.body);
  } catch (cause) {
    throw corrupt('body is not valid JSON', cause);
  }
  const problem = validateCheckpoint(body);
  if (problem) throw corrupt(problem);
  return body as Checkpoint;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns a description of the first structural problem, or undefined when the body is a valid checkpoint. */
export function validateCheckpoint(body: unknown): string | undefined {
  if (!isRecord(body)) return 'body is not an object';
  if (body.formatVersion !== CHECKPOINT_FORMAT_VERSION) return 'body formatVersion mismatch';
  if (typeof body.appId !== 'string' || body.appId === '') return 'appId missing';
  for (const key of ['epoch', 'seq', 'writtenAt', 'batchIntervalMs'] as const) {
    if (!isInt(body[key])) return `${key} is not an integer`;
  }
  if (!isRecord(body.sources)) return 'sources is not an object';
  for (const [name, source] of Object.entries(body.sources)) {
    if (!isRecord(source) || !isRecord(source.offsets)) return `source ${name} has no offsets`;
    for (const [partition, offset] of Object.entries(source.offsets)) {
      if (!isInt(offset) || offset < 0) return `source ${name} partition ${partition} offset is invalid`;
    }
  }
  if (!isRecord(body.operators)) return 'operators is not an object';
  if (!Array.isArray(body.batches)) return 'batches is not an array';
  let previous = -Infinity;
  for (const batch of body.batches as unknown[]) {
    const problem = validateBatch(batch);
    if (problem) return problem;
    const time = (batch as BatchRecord).time;
    if (time <= previous) return 'batches are not in increasing time order';
    previous = time;
  }
  if (body.lastCompletedTime !== undefined && !isInt(body.lastCompletedTime)) return 'lastCompletedTime is not an integer';
  if (!Array.isArray(body.blobs) || !body.blobs.every((b) => typeof b === 'string')) return 'blobs is not a string array';
  return undefined;
}

function validateBatch(batch: unknown): string | undefined {
  if (!isRecord(batch) || !isInt(batch.time)) return 'batch without an integer time';
  if (typeof batch.completed !== 'boolean') return `batch ${batch.time} has no completed flag`;
  if (!Array.isArray(batch.ranges)) return `batch ${batch.time} has no ranges`;
  for (const range of batch.ranges as unknown[]) {
    if (
      !isRecord(range) ||
      typeof range.source !== 'string' ||
      typeof range.partition !== 'string' ||
      !isInt(range.from) ||
      !isInt(range.until) ||
      range.from < 0 ||
      range.until < range.from
    ) {
      return `batch ${batch.time} has an invalid offset range`;
    }
  }
  return undefined;
}
