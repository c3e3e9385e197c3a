import { silentLogger } from '@microbatch/core';
import { checkpointStoreSuite } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { createRedisCheckpointStore } from '../src/index.js';
import { useRandomKeyPrefix } from './support/key-prefix.js';

const { keyPrefix, admin } = useRandomKeyPrefix();

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
