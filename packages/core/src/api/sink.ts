import type { Batch } from '../batch.js';
import type { Logger } from './logger.js';
import type { OffsetRange } from './offsets.js';

/** What an output operation knows about the batch it writes: enough to be idempotent or transactional. */
export interface OutputContext {
  readonly appId: string;
  /** The epoch of this process; a sink can fence writes from older epochs with it. */
  readonly epoch: number;
  /** The batch time: a multiple of the batch interval, identical when the batch is replayed. */
  readonly batchTime: number;
  /** 1 on the first try, then 2, 3... within one process; a replay after a restart starts at 1 again. */
  readonly attempt: number;
  /** The output operation's name, unique within the application. */
  readonly outputName: string;
  /** Every offset range of the batch. */
  readonly offsetRanges: readonly OffsetRange[];
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** Per partition: `generateUniqueId(batchTime, partitionId)` of Spark is `(ctx.batchTime, ctx.partitionId)`. */
export interface PartitionContext extends OutputContext {
  readonly partitionId: number;
  readonly numPartitions: number;
  /** The ranges this partition was computed from (all of the batch's after a shuffle). */
  readonly partitionRanges: readonly OffsetRange[];
}

export interface SinkOpenContext {
  readonly appId: string;
  readonly epoch: number;
  readonly logger: Logger;
}

/**
 * An output. It must be idempotent (a replayed batch writes the same values again) or
 * transactional (a replayed (batchTime, partition) is detected and skipped atomically).
 */
export interface Sink<T> {
  /** Unique, stable output name; transactional sinks key their commit markers with it. */
  readonly name: string;
  readonly guarantee: 'idempotent' | 'transactional';
  open?(context: SinkOpenContext): Promise<void>;
  write(batch: Batch<T>, context: OutputContext): Promise<void>;
  /**
   * No retained checkpoint references batches older than `before` any more, so they will never
   * be replayed: transactional sinks may prune their markers.
   */
  retire?(context: { readonly appId: string; readonly epoch: number; readonly before: number }): Promise<void>;
  /**
   * The newest batch time this output committed for the app, read from data written in the same
   * transaction as the output (e.g. its commit markers), or undefined when it has committed none.
   * On start the engine compares it with the checkpoint: a sink that committed a batch the
   * checkpoint does not know means the checkpoint store lost its newest entries, and start fails
   * with CHECKPOINT_BEHIND_SINK instead of planning those records again (docs/semantics.md §3).
   */
  lastCommittedBatch?(context: { readonly appId: string }): Promise<number | undefined>;
  /** Safe to call twice. */
  close?(): Promise<void>;
}
