import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createRecordingLogger, randomAppId, spawnTsChild } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { createS3CheckpointStore } from '../../src/index.js';
import { useTestBucket } from './bucket.js';

const script = fileURLToPath(new URL('./s3-child.ts', import.meta.url));
const packagesDir = fileURLToPath(new URL('../../../', import.meta.url));

/** A writer process SIGKILLed at random moments, three times, against the S3 server at `endpoint()`. */
export function s3CrashSuite(endpoint: () => string): void {
  const { bucket } = useTestBucket(endpoint);

  describe('s3 store under process crashes', () => {
    it('a writer SIGKILLed at random moments leaves only committed whole checkpoints; its stray uploads are swept', async () => {
      const appId = randomAppId();
      const prefix = 'sigkill/';
      for (let round = 1; round <= 3; round++) {
        const child = spawnTsChild(script, [endpoint(), bucket().name, prefix, appId, '1024'], { packagesDir });
        try {
          await child.waitFor((l) => l.startsWith('wrote '));
          await sleep(Math.random() * 100);
        } finally {
          await child.kill();
        }
        const confirmed = Math.max(...child.lines.map((l) => Number(l.split(' ')[1])));
        const store = createS3CheckpointStore({ bucket: bucket().name, prefix, endpoint: endpoint(), forcePathStyle: true, logger: createRecordingLogger() });
        try {
          const latest = await store.latest(appId);
          expect(latest?.skipped).toEqual([]);
          expect(latest!.checkpoint.seq).toBeGreaterThanOrEqual(confirmed);
          // Each round's child took a new epoch, and this test one more to sweep: 2 per round.
          expect(latest!.checkpoint.epoch).toBe(2 * round - 1);
          const names = await store.list(appId);
          for (const name of names) await store.read(appId, name);
          // Taking the next epoch removes uploads the killed writer never committed.
          await store.acquireEpoch(appId);
          const objects = await bucket().keys(`${prefix}${appId}/checkpoints/`);
          expect(objects.map((key) => key.split('/').at(-1)!.replace(/\.e\d{10}$/, '')).sort()).toEqual(names);
        } finally {
          await store.close();
        }
      }
    });
  });
}
