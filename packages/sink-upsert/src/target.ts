import type { Logger, OutputContext } from '@microbatch/core';

/** Which process may write an output: the one with the newest epoch of the app. */
export interface FenceContext {
  readonly appId: string;
  readonly outputName: string;
  readonly epoch: number;
  readonly logger?: Logger;
}

/**
 * Where an upsert sink writes: anything that can store a record under its key so that writing it
 * again changes nothing. Implement this to add a target (Postgres and Redis ship here).
 */
export interface UpsertTarget<T> {
  /** Shown in errors and logs. */
  readonly kind: string;
  /** The record's identity: of several records with one key in a batch, the last one is written. */
  keyOf(record: T): string;
  /**
   * Fencing. Records in the target that `epoch` is the output's newest writer, so that from then
   * on `upsert` refuses older epochs; throws `FencedError` if a newer epoch already claimed it.
   * The sink calls it once per epoch, before the first write. A target without `claim` is not
   * fenced: a stalled older process can still overwrite newer values.
   */
  claim?(context: FenceContext): Promise<void>;
  /**
   * Writes records whose keys are all distinct. Must be idempotent: values, not increments. A
   * fenced target checks `context.epoch` against the claimed one atomically with each chunk it
   * writes, and throws `FencedError` instead of writing when a newer epoch claimed the output.
   */
  upsert(records: readonly T[], context: OutputContext): Promise<void>;
  close?(): Promise<void>;
}
