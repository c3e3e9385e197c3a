import { invalidOption, type Logger } from '@microbatch/core';
import { fencedError } from '@microbatch/sink-postgres';
import { Redis } from 'ioredis';
import { CLAIM_SCRIPT, FENCED_UPSERT_SCRIPT } from './redis-scripts.js';
import type { UpsertTarget } from './target.js';

type Scalar = string | number | Buffer;

interface RedisCommon<T> {
  /** An ioredis client (not closed by the sink), or a `redis://` URL (the sink's own client, closed by `close()`). */
  readonly redis: Redis | string;
  /** The Redis key of a record. */
  readonly key: (record: T) => string;
  /** Expire the written keys after this many seconds. Default: never. */
  readonly ttlSeconds?: number;
  /** Records per round trip: one script call (fenced) or one pipeline (`fence: false`). Default 1000. */
  readonly pipelineSize?: number;
  /**
   * Refuse writes of older epochs (zombies) with FencedError. Each chunk is one Lua script that
   * reads the output's fence key and writes only if no newer epoch claimed it. Default true.
   * `false` pipelines plain SET/HSET: a stalled older process can then overwrite newer values.
   */
  readonly fence?: boolean;
  /** The fence key of an output. Default `microbatch:fence:<appId>:<outputName>`. */
  readonly fenceKey?: (output: { readonly appId: string; readonly outputName: string }) => string;
  readonly logger?: Logger;
}

/** `SET key value`: one value per key. */
export interface RedisStringOptions<T> extends RedisCommon<T> {
  readonly type: 'string';
  readonly value: (record: T) => Scalar;
}

/** `HSET key field value` (one field per record), or `HSET key f1 v1 f2 v2...` with `fields`. */
export interface RedisHashOptions<T> extends RedisCommon<T> {
  readonly type: 'hash';
  readonly field?: (record: T) => string;
  readonly value?: (record: T) => Scalar;
  readonly fields?: (record: T) => Readonly<Record<string, Scalar>>;
}

export type RedisUpsertOptions<T> = RedisStringOptions<T> | RedisHashOptions<T>;

type FencedRedis = Redis & {
  microbatchClaim(numKeys: number, ...args: Scalar[]): Promise<number>;
  microbatchUpsert(numKeys: number, ...args: Scalar[]): Promise<number>;
};

/** What one record writes: the value of a string, or the field/value pairs of a hash. */
interface Write {
  readonly key: string;
  readonly args: readonly Scalar[];
}

/**
 * Redis target: SET or HSET. Fenced (the default), each chunk is one Lua script: atomic against
 * a newer epoch's claim, one round trip. Unfenced, chunks are pipelines. Neither is a transaction
 * across chunks, so a crash can leave part of a batch written; that is fine for absolute values,
 * which the replay writes again.
 */
export function redisUpsert<T>(options: RedisUpsertOptions<T>): UpsertTarget<T> {
  if (typeof options.key !== 'function') throw invalidOption('key', 'expected a function record -> Redis key', options.key);
  if (options.type === 'hash') {
    const byField = typeof options.field === 'function' && typeof options.value === 'function';
    if (byField === (typeof options.fields === 'function')) throw invalidOption('fields', "a hash target takes either 'field' and 'value', or 'fields'");
  } else if (options.type === 'string') {
    if (typeof options.value !== 'function') throw invalidOption('value', 'expected a function record -> value', options.value);
  } else {
    throw invalidOption('type', "expected 'string' or 'hash'", (options as { type: unknown }).type);
  }
  const pipelineSize = options.pipelineSize ?? 1000;
  if (!Number.isInteger(pipelineSize) || pipelineSize < 1) throw invalidOption('pipelineSize', 'expected a positive integer', pipelineSize);
  const fence = options.fence ?? true;
  const fenceKey = options.fenceKey ?? (({ appId, outputName }) => `microbatch:fence:${appId}:${outputName}`);
  const ttl = options.ttlSeconds ?? 0;
  const owned = typeof options.redis === 'string';
  let client: Redis | undefined;
  const redis = (): FencedRedis => {
    if (!client) {
      client = typeof options.redis === 'string' ? new Redis(options.redis, { lazyConnect: false, maxRetriesPerRequest: 20 }) : options.redis;
      // defineCommand is idempotent per name: a shared client gets the scripts once, EVALSHA after.
      client.defineCommand('microbatchClaim', { lua: CLAIM_SCRIPT });
      client.defineCommand('microbatchUpsert', { lua: FENCED_UPSERT_SCRIPT });
    }
    return client as FencedRedis;
  };

  const keyOf = (record: T): string => {
    if (options.type === 'hash' && options.field) return `${options.key(record)}\u0000${options.field(record)}`;
    return options.key(record);
  };

  const writeOf = (record: T): Write => {
    const key = options.key(record);
    if (options.type === 'string') return { key, args: [options.value(record)] };
    if (options.fields) return { key, args: Object.entries(options.fields(record)).flat() };
    return { key, args: [options.field!(record), options.value!(record)] };
  };

  async function pipelined(writes: readonly Write[]): Promise<void> {
    const pipeline = redis().pipeline();
    for (const { key, args } of writes) {
      if (options.type === 'string') {
        if (ttl) pipeline.set(key, args[0]!, 'EX', ttl);
        else pipeline.set(key, args[0]!);
        continue;
      }
      if (args.length === 0) continue; // an empty `fields` object: nothing to set (HSET needs a pair)
      pipeline.hset(key, ...(args as [Scalar, Scalar]));
      if (ttl) pipeline.expire(key, ttl);
    }
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }

  /** KEYS: fence, then one per record. ARGV: epoch, ttl, type, then per record (hash: its pair count first) its values. */
  async function fenced(writes: readonly Write[], output: { appId: string; outputName: string; epoch: number }): Promise<void> {
    const argv: Scalar[] = [output.epoch, ttl, options.type];
    for (const { args } of writes) {
      if (options.type === 'hash') argv.push(args.length / 2);
      argv.push(...args);
    }
    const current = await redis().microbatchUpsert(writes.length + 1, fenceKey(output), ...writes.map((w) => w.key), ...argv);
    if (current > output.epoch) throw fencedError(output, output.epoch, current);
  }

  return {
    kind: 'redis',
    keyOf,
    ...(fence
      ? {
          async claim(context) {
            const current = await redis().microbatchClaim(1, fenceKey(context), context.epoch);
            if (current > context.epoch) throw fencedError(context, context.epoch, current);
          },
        }
      : {}),
    async upsert(records, context) {
      const writes = records.map(writeOf);
      for (let start = 0; start < writes.length; start += pipelineSize) {
        const chunk = writes.slice(start, start + pipelineSize);
        if (fence) await fenced(chunk, context);
        else await pipelined(chunk);
      }
    },
    async close() {
      if (owned && client) {
        const c = client;
        client = undefined;
        await c.quit().catch(() => c.disconnect());
      }
    },
  };
}
