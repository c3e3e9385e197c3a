import { silentLogger, type OutputContext } from '@microbatch/core';
import type { Database } from '@microbatch/sink-postgres';
import { Redis } from 'ioredis';

export { createPool, randomName } from '../../sink-postgres/test/support/db.js';

export function createRedis(): Redis {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error('REDIS_URL is not set: the vitest globalSetup should have set it');
  return new Redis(url);
}

/** Every key under `prefix:` (without the prefix), sorted, with its value (string) or fields (hash). */
export async function redisDump(redis: Redis, prefix: string): Promise<Array<[string, unknown]>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  keys.sort();
  return Promise.all(
    keys.map(async (key): Promise<[string, unknown]> => [
      key.slice(prefix.length + 1),
      (await redis.type(key)) === 'hash' ? await redis.hgetall(key) : await redis.get(key),
    ]),
  );
}

export async function redisDelete(redis: Redis, prefix: string): Promise<void> {
  const keys = (await redisDump(redis, prefix)).map(([key]) => `${prefix}:${key}`);
  if (keys.length > 0) await redis.del(...keys);
}

/**
 * The real database, calling `hook(n)` after the n-th transaction that upserted a chunk has
 * committed (and before the next one starts, with `concurrency: 1`): a place to stall or freeze
 * a writer between the chunks of a batch.
 */
export function afterChunkCommits(db: Database, hook: (chunks: number) => Promise<void> | void): Database {
  let chunks = 0;
  return {
    ...db,
    async transaction(fn) {
      let upserted = false;
      const result = await db.transaction((tx) =>
        fn({
          ...tx,
          async query<R>(text: string, params?: readonly unknown[]) {
            const done = await tx.query<R>(text, params);
            if (text.startsWith('INSERT') && text.includes('unnest(')) upserted = true;
            return done;
          },
        }),
      );
      if (upserted) await hook(++chunks);
      return result;
    },
  };
}

/** What the engine passes to a write of output `totals`. */
export function outputContext(appId: string, batchTime: number, epoch = 1): OutputContext {
  return { appId, epoch, batchTime, attempt: 1, outputName: 'totals', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
}
