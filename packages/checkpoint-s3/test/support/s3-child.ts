// A separate process writing checkpoints to S3 in a loop, so a test can SIGKILL it mid-write.
import { silentLogger } from '@microbatch/core';
import { benchCheckpoint } from '@microbatch/testkit';
import { createS3CheckpointStore } from '../../src/index.js';

const [endpoint, bucket, prefix, appId, partitions] = process.argv.slice(2) as [string, string, string, string, string];
const store = createS3CheckpointStore({ endpoint, bucket, prefix, forcePathStyle: true, logger: silentLogger, retain: 3 });
const epoch = await store.acquireEpoch(appId);
// Like the engine, go on from the recovered checkpoint: seq grows across restarts.
const start = ((await store.latest(appId))?.checkpoint.seq ?? 0) + 1;
for (let seq = start; ; seq++) {
  await store.write(benchCheckpoint(appId, epoch, seq, Number(partitions)));
  process.stdout.write(`wrote ${seq}\n`);
}
