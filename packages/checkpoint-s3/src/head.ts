import { MicrobatchError } from '@microbatch/core';

/**
 * The per-app head: the epoch and the names of committed checkpoints. It is never overwritten:
 * each change creates version n+1 with `If-None-Match: *`, which exactly one writer can win, so
 * epoch changes and checkpoint commits are totally ordered. Only create-if-absent is needed: it
 * is atomic on AWS S3, MinIO, R2 and s3proxy 4.x alike, where `If-Match` on PUT is not everywhere.
 */
export interface Head {
  readonly version: 1;
  readonly epoch: number;
  /** Random token of the acquisition that set `epoch`: tells a retried request that it already won. */
  readonly owner: string;
  /** Committed checkpoint name -> epoch that wrote it (the epoch is part of the data object's key). */
  readonly checkpoints: Readonly<Record<string, number>>;
  /**
   * Tokens of the last writes, newest last. A writer that finds its token here after creating a
   * version knows that version is part of the chain, and not a re-creation of a version number
   * that had been pruned while the writer was stalled (a zombie).
   */
  readonly history: readonly string[];
}

export const HISTORY_LENGTH = 32;

export const EMPTY_HEAD: Head = { version: 1, epoch: 0, owner: '', checkpoints: {}, history: [] };

export function parseHead(bytes: Uint8Array, where: string): Head {
  let head: Partial<Head>;
  try {
    head = JSON.parse(Buffer.from(bytes).toString('utf8')) as Partial<Head>;
  } catch (cause) {
    throw new MicrobatchError('CHECKPOINT_CORRUPT', `S3 head object ${where} is not valid JSON`, { cause, details: { where } });
  }
  const valid =
    typeof head === 'object' &&
    head !== null &&
    head.version === 1 &&
    Number.isSafeInteger(head.epoch) &&
    typeof head.owner === 'string' &&
    typeof head.checkpoints === 'object' &&
    head.checkpoints !== null &&
    Object.values(head.checkpoints).every((e) => Number.isSafeInteger(e)) &&
    Array.isArray(head.history);
  if (!valid) throw new MicrobatchError('CHECKPOINT_CORRUPT', `S3 head object ${where} is malformed`, { details: { where } });
  return head as Head;
}
