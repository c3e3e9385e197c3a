import type { Logger } from './logger.js';
import type { OffsetRange, PartitionOffsets } from './offsets.js';

export interface SourceOpenContext {
  readonly appId: string;
  readonly logger: Logger;
  /**
   * Tell the context about records a source rejected under an explicit policy (e.g. skipped or
   * dead-lettered malformed records), so they are counted in metrics; nothing is dropped silently.
   */
  readonly reportRejected?: (event: RejectedRecords) => void;
  /**
   * Set when the context runs one task of a group (docs/semantics.md §10): true for the partition
   * keys this task plans and reads. A source may fetch and list only those (the Kafka source
   * assigns its reader just these partitions). Undefined: the context reads every partition.
   */
  readonly ownsPartition?: (partition: string) => boolean;
}

export interface RejectedRecords {
  readonly source: string;
  /** Short reason, e.g. "deserialization". */
  readonly reason: string;
  /** What happened to them: "skipped" or "dead-lettered". */
  readonly action: string;
  readonly count: number;
  readonly partition?: string;
}

export interface ReadContext {
  readonly appId: string;
  readonly batchTime: number;
  /** 1 on the first try of a batch, then 2, 3... when the scheduler retries it. */
  readonly attempt: number;
  /** Aborted when the context stops without waiting for the batch. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/**
 * A replayable, partitioned, offset-addressed input: the "direct" model. The engine decides every
 * range, logs it, then reads it; the source never decides on its own what a batch contains.
 */
export interface Source<T> {
  /** Stable name; it keys this source's offsets in the checkpoint across program versions. */
  readonly name: string;
  /** Per-source cap of records per partition per batch; overrides the context's default. */
  readonly maxRecordsPerPartition?: number;
  /**
   * The partition number of a partition key, which names the task that owns it when the
   * application runs as a group of processes (docs/semantics.md §10). Default: the key's trailing
   * digits ("events:3" and "3" are partition 3), which fits Kafka's "topic:N" and the memory
   * sources' "N".
   */
  partitionNumber?(partition: string): number;
  /**
   * Set when the source's start offsets come from what one output committed (sink-postgres's
   * `withCommittedOffsets`): starting without a checkpoint then resumes after that output's
   * records instead of planning them again, so the engine's check for a store that lost entries
   * (CHECKPOINT_BEHIND_SINK) does not apply to that output when every source resumes from it.
   */
  readonly resumesFromOutput?: string;
  open?(context: SourceOpenContext): Promise<void>;
  /** Every partition that exists now, with the offset just past its newest readable record. */
  latestOffsets(): Promise<PartitionOffsets>;
  /**
   * Start offsets for partitions the checkpoint does not know: all of them on a first start
   * (`initial`), or partitions that appeared while running or since the checkpoint (`discovered`).
   */
  startOffsets(partitions: readonly string[], reason: 'initial' | 'discovered'): Promise<PartitionOffsets>;
  /**
   * Reads exactly [range.from, range.until) of one partition. Must return the same records for the
   * same range on every call, in any process. Throws a MicrobatchError with code
   * OFFSET_OUT_OF_RANGE when the range is no longer available, never a shorter result.
   */
  read(range: OffsetRange, context: ReadContext): Promise<T[]>;
  /**
   * Told after a batch's completion is durable; for monitoring only (e.g. consumer-group lag).
   * A failure is logged as a warning and changes nothing: offsets in the checkpoint stay the
   * source of truth, and the next commit carries newer offsets anyway.
   */
  commit?(ranges: readonly OffsetRange[]): Promise<void>;
  /** Safe to call twice. */
  close?(): Promise<void>;
}
