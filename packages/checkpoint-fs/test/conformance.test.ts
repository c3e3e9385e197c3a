import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointStoreSuite } from '@microbatch/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createFsCheckpointStore } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'microbatch-fs-conformance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

checkpointStoreSuite({
  describe,
  it,
  expect,
  createStore: (options) => createFsCheckpointStore({ ...options, dir }),
  // Damage on disk, bypassing the store: the file is rewritten in place, as an editor or a bad disk would.
  async overwriteCheckpoint(appId, name, bytes) {
    writeFileSync(join(dir, appId, 'checkpoints', name), bytes);
  },
});
