import type { OutputContext } from '@microbatch/core';

/**
 * Where an upsert sink writes: anything that can store a record under its key so that writing it
 * again changes nothing. Implement this to add a target (Postgres and Redis ship here).
 */
export interface UpsertTarget<T> {
  /** Shown in errors and logs. */
  readonly kind: string;
  /** The record's identity: of several records with one key in a batch, the last one is written. */
  keyOf(record: T): string;
  /** Writes records whose keys are all distinct. Must be idempotent: values, not increments. */
  upsert(records: readonly T[], context: OutputContext): Promise<void>;
  close?(): Promise<void>;
}
