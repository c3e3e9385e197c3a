// A separate process writing checkpoints to Redis in a loop, so a test can SIGKILL it mid-write.
import { silentLogger } from '@microbatch/core';
import { benchCheckpoint } from '@microbatch/testkit';
import { createRedisCheckpointStore } from '../../src/index.js';

const [url, keyPrefix, appId, partitions] = process.argv.slice(2) as [string, string, string, string];
const store = createRedisCheckpointStore({ url, keyPrefix, logger: silentLogger, retain: 3 });
const epoch = await store.acquireEpoch(appId);
// Like the engine, go on from the recovered checkpoint: seq grows across restarts.
const start = ((await store.latest(appId))?.checkpoint.seq ?? 0) + 1;
for (let seq = start; ; seq++) {
  await store.write(benchCheckpoint(appId, epoch, seq, Number(partitions)));
  process.stdout.write(`wrote ${seq}\n`);
}
