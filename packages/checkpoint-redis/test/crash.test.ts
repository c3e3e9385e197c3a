import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { createRecordingLogger, randomAppId, spawnTsChild } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { createRedisCheckpointStore } from '../src/index.js';
import { useRandomKeyPrefix } from './support/key-prefix.js';

const { keyPrefix } = useRandomKeyPrefix();
const script = fileURLToPath(new URL('./support/redis-child.ts', import.meta.url));
const packagesDir = fileURLToPath(new URL('../../', import.meta.url));

describe('redis store under process crashes', () => {
  it('a writer SIGKILLed at random moments leaves only whole checkpoints, the newest confirmed one included', async () => {
    const appId = randomAppId();
    for (let round = 1; round <= 3; round++) {
      const child = spawnTsChild(script, [process.env.REDIS_URL!, keyPrefix, appId, '1024'], { packagesDir });
      try {
        await child.waitFor((l) => l.startsWith('wrote '));
        await sleep(Math.random() * 100);
      } finally {
        await child.kill();
      }
      const confirmed = Math.max(...child.lines.map((l) => Number(l.split(' ')[1])));
      const store = createRedisCheckpointStore({ url: process.env.REDIS_URL, keyPrefix, logger: createRecordingLogger() });
      try {
        const latest = await store.latest(appId);
        expect(latest?.skipped).toEqual([]);
        expect(latest!.checkpoint.seq).toBeGreaterThanOrEqual(confirmed);
        expect(latest!.checkpoint.epoch).toBe(round);
        for (const name of await store.list(appId)) await store.read(appId, name);
      } finally {
        await store.close();
      }
    }
  });
});
