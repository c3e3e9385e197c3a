import { randomBytes } from 'node:crypto';
import { silentLogger } from '@microbatch/core';
import { checkpointStoreSuite } from '@microbatch/testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisCheckpointStore } from '../src/index.js';

// The shared Redis: everything this file writes lives under a random prefix, removed at the end (never FLUSH).
const keyPrefix = `mbtest:${randomBytes(4).toString('hex')}:`;
const admin = new Redis(process.env.REDIS_URL!);
afterAll(async () => {
  const keys = await admin.keys(`${keyPrefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
});

checkpointStoreSuite({
  describe,
  it,
  expect,
  // The shared Redis may run without persistence; its start-up warning is tested elsewhere.
  createStore: (options) => createRedisCheckpointStore({ logger: silentLogger, ...options, keyPrefix, url: process.env.REDIS_URL }),
  async overwriteCheckpoint(appId, name, bytes) {
    const hash = `${keyPrefix}{${appId}}:checkpoints`;
    if (!(await admin.hexists(hash, name))) throw new Error(`no checkpoint ${appId}/${name} to overwrite`);
    await admin.hset(hash, name, Buffer.from(bytes));
  },
});
