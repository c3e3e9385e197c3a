import { invalidOption, type Logger } from '@microbatch/core';
import { Redis } from 'ioredis';
import type { UpsertTarget } from './target.js';

type Scalar = string | number | Buffer;

interface RedisCommon<T> {
  /** An ioredis client (not closed by the sink), or a `redis://` URL (the sink's own client, closed by `close()`). */
  readonly redis: Redis | string;
  /** The Redis key of a record. */
  readonly key: (record: T) => string;
  /** Expire the written keys after this many seconds. Default: never. */
  readonly ttlSeconds?: number;
  /** Commands per pipeline round trip. Default 1000. */
  readonly pipelineSize?: number;
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

/**
 * Redis target: SET or HSET, pipelined. Pipelines are not transactions, so a crash can leave part
 * of a batch written; that is fine for absolute values, which the replay writes again.
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
  const owned = typeof options.redis === 'string';
  let client: Redis | undefined;
  const redis = () => (client ??= typeof options.redis === 'string' ? new Redis(options.redis, { lazyConnect: false, maxRetriesPerRequest: 20 }) : options.redis);

  const keyOf = (record: T): string => {
    if (options.type === 'hash' && options.field) return `${options.key(record)}\u0000${options.field(record)}`;
    return options.key(record);
  };

  return {
    kind: 'redis',
    keyOf,
    async upsert(records) {
      const r = redis();
      for (let start = 0; start < records.length; start += pipelineSize) {
        const pipeline = r.pipeline();
        for (const record of records.slice(start, start + pipelineSize)) {
          const key = options.key(record);
          if (options.type === 'string') {
            if (options.ttlSeconds) pipeline.set(key, options.value(record), 'EX', options.ttlSeconds);
            else pipeline.set(key, options.value(record));
            continue;
          }
          if (options.fields) pipeline.hset(key, options.fields(record));
          else pipeline.hset(key, options.field!(record), options.value!(record));
          if (options.ttlSeconds) pipeline.expire(key, options.ttlSeconds);
        }
        const results = (await pipeline.exec()) ?? [];
        const failed = results.find(([error]) => error);
        if (failed) throw failed[0];
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
