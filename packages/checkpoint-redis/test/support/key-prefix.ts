import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';

/**
 * A random key prefix on the shared Redis for one test file, and an admin client; every key under
 * the prefix is deleted after the file (the shared Redis is never flushed).
 */
export function useRandomKeyPrefix(): { keyPrefix: string; admin: Redis } {
  const keyPrefix = `mbtest:${randomBytes(4).toString('hex')}:`;
  const admin = new Redis(process.env.REDIS_URL!);
  afterAll(async () => {
    const keys = await admin.keys(`${keyPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });
  return { keyPrefix, admin };
}
