import { blobKey, isMicrobatchError } from '@microbatch/core';
import { createRecordingLogger, randomAppId, sampleCheckpoint } from '@microbatch/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { startPrivateService } from '../../../tools/services/src/index.mjs';
import { createRedisCheckpointStore } from '../src/index.js';
import { useRandomKeyPrefix } from './support/key-prefix.js';
import { startPersistentRedis } from './support/redis-server.js';

const { keyPrefix, admin } = useRandomKeyPrefix();

const errorOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

describe('redis checkpoint store', () => {
  it('keeps every key of an app under the prefix and one hash tag (one cluster slot)', async () => {
    const store = createRedisCheckpointStore({ keyPrefix, url: process.env.REDIS_URL, logger: createRecordingLogger() });
    const appId = randomAppId();
    const epoch = await store.acquireEpoch(appId);
    await store.putBlob(appId, blobKey(epoch, 's'), Buffer.from('x'), epoch);
    await store.write(sampleCheckpoint(appId, { epoch, seq: 1, time: 1000, blobs: [blobKey(epoch, 's')] }));
    await store.close();
    const keys = (await admin.keys(`${keyPrefix}*${appId}*`)).sort();
    expect(keys).toEqual(['blobs', 'checkpoints', 'epoch'].map((k) => `${keyPrefix}{${appId}}:${k}`));
  });

  it('uses an injected client and leaves it open; close is safe twice', async () => {
    const client = new Redis(process.env.REDIS_URL!);
    try {
      const store = createRedisCheckpointStore({ client, keyPrefix, logger: createRecordingLogger() });
      expect(await store.acquireEpoch(randomAppId())).toBe(1);
      await store.close();
      await store.close();
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('rejects a bad URL and a prefix that would break the hash tag', () => {
    expect(() => createRedisCheckpointStore({ url: 'http://nope' })).toThrow(expect.objectContaining({ code: 'INVALID_URI' }));
    expect(() => createRedisCheckpointStore({ keyPrefix: 'a{b}' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => createRedisCheckpointStore({ maxRetries: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('warns at start when Redis has no persistence, and not when it has', async () => {
    const bare = await startPrivateService('redis');
    const persistent = await startPersistentRedis();
    try {
      const warned = createRecordingLogger();
      const store = createRedisCheckpointStore({ url: bare.url, logger: warned });
      await store.currentEpoch(randomAppId());
      await store.close();
      expect(warned.messages.warn.filter((w) => w.includes('no persistence'))).toHaveLength(1);
      const quiet = createRecordingLogger();
      const other = createRedisCheckpointStore({ url: persistent.url, logger: quiet });
      await other.currentEpoch(randomAppId());
      await other.close();
      expect(quiet.messages.warn).toEqual([]);
    } finally {
      await bare.stop();
      await persistent.stop();
    }
  });

  it('rides out a Redis restart in the middle of a run: no write lost, none failed', async () => {
    const redis = await startPersistentRedis();
    const logger = createRecordingLogger();
    const store = createRedisCheckpointStore({ url: redis.url, logger });
    try {
      const appId = randomAppId();
      const epoch = await store.acquireEpoch(appId);
      let restarted = false;
      const restart = redis.restart(1500).then(() => (restarted = true));
      let seq = 0;
      // Keep writing through the outage and a while after it; every write must eventually succeed.
      while (!restarted || seq < 200) {
        seq++;
        await store.write(sampleCheckpoint(appId, { epoch, seq, time: seq * 1000 }));
      }
      await restart;
      // The outage really hit the run: the store saw the connection drop.
      expect(logger.messages.debug.filter((m) => m === 'redis connection error').length).toBeGreaterThan(0);
      expect((await store.latest(appId))?.checkpoint.seq).toBe(seq);
      expect(await store.currentEpoch(appId)).toBe(epoch);
      expect(await store.list(appId)).toHaveLength(10);
    } finally {
      await store.close();
      await redis.stop();
    }
  });

  it('gives up after the configured retries with CHECKPOINT_STORE_UNAVAILABLE when Redis stays down', async () => {
    const redis = await startPrivateService('redis');
    const store = createRedisCheckpointStore({ url: redis.url, maxRetries: 3, retryDelayMs: 20, logger: createRecordingLogger() });
    try {
      const appId = randomAppId();
      const epoch = await store.acquireEpoch(appId);
      await redis.stop();
      const error = await errorOf(store.write(sampleCheckpoint(appId, { epoch, seq: 1, time: 1000 })));
      expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
      expect((error as { details: { attempts: number } }).details.attempts).toBe(4);
      expect((error as Error).cause).toBeInstanceOf(Error);
    } finally {
      await store.close();
      await redis.stop();
    }
  });
});
