import { type Batch, type Logger, MicrobatchError, type OutputContext, type Sink, type SinkOpenContext, invalidOption } from '@microbatch/core';
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
 * deterministic winner instead of whichever partition committed last. With a fenced target
 * (the default of both shipped ones), `open` claims the output for the process's epoch, and a
 * zombie's writes fail with FencedError instead of moving values back to an older batch.
 */
export interface UpsertSink<T> extends Sink<T> {
  readonly guarantee: 'idempotent';
  /** Claims the output for the epoch (fenced targets); FencedError if a newer epoch did. */
  open(context: SinkOpenContext): Promise<void>;
  /** Closes the target (its own clients only). Safe twice. */
  close(): Promise<void>;
}

export function upsertSink<T>(options: UpsertSinkOptions<T>): UpsertSink<T> {
  if (typeof options.name !== 'string' || options.name.length === 0) throw invalidOption('name', 'expected a non-empty string', options.name);
  const target = options.target;
  if (!target || typeof target.upsert !== 'function' || typeof target.keyOf !== 'function') {
    throw invalidOption('target', 'expected an UpsertTarget (postgresUpsert, redisUpsert, or your own)');
  }
  const name = options.name;
  let closed = false;
  // The highest epoch claimed per app: the claim runs once per epoch, not once per write.
  const claimed = new Map<string, number>();

  async function claim(appId: string, epoch: number, logger: Logger): Promise<void> {
    if (!target.claim || (claimed.get(appId) ?? 0) >= epoch) return;
    await target.claim({ appId, outputName: name, epoch, logger });
    claimed.set(appId, Math.max(claimed.get(appId) ?? 0, epoch));
  }

  return {
    name,
    guarantee: 'idempotent',
    async open(context) {
      try {
        await claim(context.appId, context.epoch, context.logger);
      } catch (error) {
        if (error instanceof MicrobatchError) throw error;
        throw new MicrobatchError('SINK_FAILED', `Output "${name}" failed claiming ${target.kind} for epoch ${context.epoch}: ${String(error)}`, {
          cause: error,
          details: { output: name, epoch: context.epoch },
        });
      }
    },
    async write(batch: Batch<T>, context: OutputContext) {
      // FencedError keeps its code (the engine stops on it); anything else names output and batch.
      const failed = (error: unknown): never => {
        throw sinkError(error, { output: name, batchTime: context.batchTime });
      };
      // Before reading the batch: even a batch with nothing to write fences the older epochs.
      await claim(context.appId, context.epoch, context.logger).catch(failed);
      const records = lastPerKey(await batch.collect(), (r) => target.keyOf(r));
      if (records.length === 0) return;
      await target.upsert(records, context).catch(failed);
    },
    async close() {
      if (closed) return;
      closed = true;
      await target.close?.();
    },
  };
}
