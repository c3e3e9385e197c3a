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
