import { type Batch, type OutputContext, type Sink, invalidOption } from '@microbatch/core';
import { sinkError } from '@microbatch/sink-postgres';
import type { UpsertTarget } from './target.js';

export interface UpsertSinkOptions<T> {
  /** The output's stable name. */
  readonly name: string;
  readonly target: UpsertTarget<T>;
}

/**
 * Keeps the last record of each key, in batch order (partition 0 first, then record order): the
 * same winner on every replay, whichever partitions run first.
 */
export function lastPerKey<T>(records: readonly T[], keyOf: (record: T) => string): T[] {
  const last = new Map<string, T>();
  for (const record of records) {
    const key = keyOf(record);
    last.delete(key); // re-insert: the key's position follows its last occurrence
    last.set(key, record);
  }
  return [...last.values()];
}

/**
 * An idempotent output: every batch is written as "key = value" upserts, so a replayed batch,
 * whose values are the same (batch plans are write-ahead logged), leaves the target unchanged.
 * The batch is read whole and deduplicated first, so a key in several partitions has one
 * deterministic winner instead of whichever partition committed last.
 */
export interface UpsertSink<T> extends Sink<T> {
  readonly guarantee: 'idempotent';
  /** Closes the target (its own clients only). Safe twice. */
  close(): Promise<void>;
}

export function upsertSink<T>(options: UpsertSinkOptions<T>): UpsertSink<T> {
  if (typeof options.name !== 'string' || options.name.length === 0) throw invalidOption('name', 'expected a non-empty string', options.name);
  const target = options.target;
  if (!target || typeof target.upsert !== 'function' || typeof target.keyOf !== 'function') {
    throw invalidOption('target', 'expected an UpsertTarget (postgresUpsert, redisUpsert, or your own)');
  }
  let closed = false;
  return {
    name: options.name,
    guarantee: 'idempotent',
    async write(batch: Batch<T>, context: OutputContext) {
      const records = lastPerKey(await batch.collect(), (r) => target.keyOf(r));
      if (records.length === 0) return;
      try {
        await target.upsert(records, context);
      } catch (error) {
        throw sinkError(error, { output: options.name, batchTime: context.batchTime });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await target.close?.();
    },
  };
}
