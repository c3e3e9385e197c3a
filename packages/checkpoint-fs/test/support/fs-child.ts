// A separate process driving the fs store, so tests can SIGKILL it at chosen points or race it.
import { join } from 'node:path';
import { blobKey } from '@microbatch/core';
import { sampleCheckpoint } from '@microbatch/testkit';
import { createFsCheckpointStore } from '../../src/index.js';
import { withLockFile } from '../../src/lock-file.js';

const [mode, dir, appId, arg] = process.argv.slice(2) as [string, string, string, string | undefined];
const store = createFsCheckpointStore({ dir, retain: 3 });
const say = (line: string) => process.stdout.write(`${line}\n`);
const forever = () => new Promise<never>(() => setInterval(() => {}, 1 << 30));

switch (mode) {
  case 'write-loop': {
    // Large checkpoints so that a kill at a random moment often lands inside a write.
    const epoch = await store.acquireEpoch(appId);
    // Like the engine, go on from the recovered checkpoint: seq and batch time grow across restarts.
    const start = ((await store.latest(appId))?.checkpoint.seq ?? 0) + 1;
    for (let seq = start; ; seq++) {
      await store.write(sampleCheckpoint(appId, { epoch, seq, time: seq * 1000, partitions: Number(arg) }));
      say(`wrote ${seq}`);
    }
  }
  case 'hang-in-blob': {
    const epoch = await store.acquireEpoch(appId);
    await store.putBlob(appId, blobKey(epoch, 'big'), (async function* () {
      yield Buffer.alloc(1 << 20, 'x');
      say('mid-blob');
      await forever();
    })(), epoch);
    break;
  }
  case 'hang-in-lock': {
    await store.acquireEpoch(appId);
    await withLockFile(join(dir, appId, '.lock'), { timeoutMs: 10_000 }, async () => {
      say('locked');
      await forever();
    });
    break;
  }
  case 'acquire': {
    const epochs: number[] = [];
    for (let i = 0; i < Number(arg); i++) epochs.push(await store.acquireEpoch(appId));
    say(JSON.stringify(epochs));
    break;
  }
  default:
    throw new Error(`unknown mode ${mode}`);
}
await store.close();
