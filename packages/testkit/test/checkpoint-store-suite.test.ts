import { createMemoryCheckpointData, createMemoryCheckpointStore } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { checkpointStoreSuite } from '../src/index.js';

// One backend for the whole file, as a real server would be; the suite's random app ids keep tests apart.
const data = createMemoryCheckpointData();

checkpointStoreSuite({
  describe,
  it,
  expect,
  createStore: (options) => createMemoryCheckpointStore({ ...options, data }),
  async overwriteCheckpoint(appId, name, bytes) {
    const checkpoints = data.checkpoints.get(appId);
    if (!checkpoints?.has(name)) throw new Error(`no checkpoint ${appId}/${name} to overwrite`);
    checkpoints.set(name, Uint8Array.from(bytes));
  },
});
