import type { OffsetRange, PartitionOffsets } from '../api/offsets.js';

export const CHECKPOINT_FORMAT_VERSION = 1;

/** One planned batch: its time and the exact offset ranges it covers (the write-ahead log entry). */
export interface BatchRecord {
  readonly time: number;
  readonly ranges: readonly OffsetRange[];
  /** True once every output operation of the batch succeeded. */
  readonly completed: boolean;
}

/** What a stateful or windowed operator keeps in the checkpoint: a reference to its snapshot blob. */
export interface OperatorCheckpoint {
  /** Blob key of the state snapshot, if one was written. */
  readonly snapshot?: string;
  /** The batch whose state the snapshot holds (state after that batch). */
  readonly snapshotBatchTime?: number;
}

/**
 * A checkpoint holds data only: offsets, planned batches, stream names and blob references.
 * Never code, so a changed program can still recover from it.
 */
export interface Checkpoint {
  readonly formatVersion: typeof CHECKPOINT_FORMAT_VERSION;
  readonly appId: string;
  /** The epoch of the process that wrote it; stores refuse writes from older epochs. */
  readonly epoch: number;
  /** Strictly increasing per app across all writes, whatever the epoch. */
  readonly seq: number;
  readonly writtenAt: number;
  readonly batchIntervalMs: number;
  /** Per named source: the offsets the next new batch starts from. */
  readonly sources: Readonly<Record<string, { readonly offsets: PartitionOffsets }>>;
  /** Per named stateful operator. */
  readonly operators: Readonly<Record<string, OperatorCheckpoint>>;
  /** Batches in time order: every planned but incomplete batch, and completed ones still needed to rebuild state. */
  readonly batches: readonly BatchRecord[];
  /** Time of the newest batch whose completion is recorded here, if any. */
  readonly lastCompletedTime?: number;
  /** Every blob key this checkpoint references; stores delete blobs no retained checkpoint references. */
  readonly blobs: readonly string[];
}

/** Latest batch time mentioned by the checkpoint (planned or completed), or 0. */
export function checkpointBatchTime(checkpoint: Checkpoint): number {
  const last = checkpoint.batches.at(-1)?.time ?? 0;
  return Math.max(last, checkpoint.lastCompletedTime ?? 0);
}

/**
 * Store-side name of a checkpoint: zero-padded batch time then sequence, so a lexicographic
 * listing sorts by batch time (and by write order within a batch time).
 */
export function checkpointName(checkpoint: Pick<Checkpoint, 'seq'> & Partial<Checkpoint>): string {
  const time = checkpoint.batches ? checkpointBatchTime(checkpoint as Checkpoint) : 0;
  return `${String(time).padStart(16, '0')}-${String(checkpoint.seq).padStart(12, '0')}`;
}

const NAME_PATTERN = /^(\d{16})-(\d{12})$/;

export function isCheckpointName(name: string): boolean {
  return NAME_PATTERN.test(name);
}

export function seqFromCheckpointName(name: string): number {
  const match = NAME_PATTERN.exec(name);
  return match ? Number(match[2]) : Number.NaN;
}

/** The batch time a checkpoint's name carries (readable even when its contents are not). */
export function batchTimeFromCheckpointName(name: string): number {
  const match = NAME_PATTERN.exec(name);
  return match ? Number(match[1]) : Number.NaN;
}
