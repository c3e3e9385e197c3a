import { S3Client } from '@aws-sdk/client-s3';
import { isMicrobatchError, type Logger } from '@microbatch/core';
import { randomAppId, sampleCheckpoint } from '@microbatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { startPrivateService } from '../../../tools/services/src/index.mjs';
import { createS3CheckpointStore, type S3CheckpointStoreOptions } from '../src/index.js';
import { adminClient, createTestBucket } from './support/bucket.js';

function capturingLogger(): Logger & { warnings: string[]; debugs: string[] } {
  const warnings: string[] = [];
  const debugs: string[] = [];
  const logger = {
    warnings,
    debugs,
    debug: (_o: unknown, msg?: string) => void debugs.push(String(msg)),
    info() {},
    error() {},
    warn: (_o: unknown, msg?: string) => void warnings.push(String(msg)),
    child: () => logger,
  };
  return logger;
}

const errorOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

const admin = adminClient();
let bucket: Awaited<ReturnType<typeof createTestBucket>>;
beforeAll(async () => {
  bucket = await createTestBucket(admin);
});
afterAll(async () => {
  await bucket.remove();
  admin.destroy();
});
const storeOptions = (extra: Partial<S3CheckpointStoreOptions> = {}): S3CheckpointStoreOptions => ({
  bucket: bucket.name,
  endpoint: process.env.S3_ENDPOINT,
  forcePathStyle: true,
  logger: capturingLogger(),
  ...extra,
});

describe('s3 checkpoint store', () => {
  it('stores one object per checkpoint, named so that the bucket listing sorts by batch time', async () => {
    const store = createS3CheckpointStore(storeOptions({ prefix: 'layout/' }));
    const appId = randomAppId();
    const epoch = await store.acquireEpoch(appId);
    for (const [seq, time] of [[1, 9000], [2, 10_000], [3, 200_000]] as const) await store.write(sampleCheckpoint(appId, { epoch, seq, time }));
    await store.close();
    const keys = await bucket.keys(`layout/${appId}/checkpoints/`);
    expect(keys).toEqual([
      `layout/${appId}/checkpoints/0000000000009000-000000000001.e0000000001`,
      `layout/${appId}/checkpoints/0000000000010000-000000000002.e0000000001`,
      `layout/${appId}/checkpoints/0000000000200000-000000000003.e0000000001`,
    ]);
  });

  it('a fenced write leaves no object behind', async () => {
    const store = createS3CheckpointStore(storeOptions({ prefix: 'fenced/' }));
    const appId = randomAppId();
    const old = await store.acquireEpoch(appId);
    await store.acquireEpoch(appId);
    const error = await errorOf(store.write(sampleCheckpoint(appId, { epoch: old, seq: 1, time: 1000 })));
    await store.close();
    expect(isMicrobatchError(error, 'FENCED')).toBe(true);
    expect(await bucket.keys(`fenced/${appId}/checkpoints/`)).toEqual([]);
  });

  it('uses an injected client and leaves it usable; close is safe twice', async () => {
    const client = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1' });
    try {
      const store = createS3CheckpointStore({ bucket: bucket.name, client, logger: capturingLogger() });
      const appId = randomAppId();
      expect(await store.acquireEpoch(appId)).toBe(1);
      await store.close();
      await store.close();
      const again = createS3CheckpointStore({ bucket: bucket.name, client, logger: capturingLogger() });
      expect(await again.currentEpoch(appId)).toBe(1);
      await again.close();
    } finally {
      client.destroy();
    }
  });

  it('rejects missing buckets, bad endpoints and bad prefixes', () => {
    expect(() => createS3CheckpointStore({} as S3CheckpointStoreOptions)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => createS3CheckpointStore({ bucket: 'b', endpoint: 'ftp://x' })).toThrow(expect.objectContaining({ code: 'INVALID_URI' }));
    expect(() => createS3CheckpointStore({ bucket: 'b', prefix: 'no-slash' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => createS3CheckpointStore({ bucket: 'b', conditionalWrites: 'maybe' as 'auto' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('finds that the server honours conditional writes, and warns when they are switched off', async () => {
    const probed = capturingLogger();
    const store = createS3CheckpointStore(storeOptions({ conditionalWrites: 'require', logger: probed }));
    await store.acquireEpoch(randomAppId());
    await store.close();
    expect(probed.warnings).toEqual([]);
    const off = capturingLogger();
    const unfenced = createS3CheckpointStore(storeOptions({ conditionalWrites: 'off', logger: off }));
    await unfenced.acquireEpoch(randomAppId());
    await unfenced.acquireEpoch(randomAppId());
    await unfenced.close();
    expect(off.warnings.filter((w) => w.includes('not atomic'))).toHaveLength(1);
  });

  it('fails with CHECKPOINT_STORE_UNAVAILABLE, not a retry loop, when the bucket does not exist', async () => {
    const store = createS3CheckpointStore(storeOptions({ bucket: `${bucket.name}-missing` }));
    const error = await errorOf(store.acquireEpoch(randomAppId()));
    await store.close();
    expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
    expect((error as { details: { attempts: number } }).details.attempts).toBe(1);
  });
});

describe('s3 checkpoint store against a server that goes away', () => {
  it('rides out the S3 server being stopped for a few seconds mid-run: no write lost, none failed', async () => {
    const server = await startPrivateService('s3');
    const privateAdmin = adminClient(server.url);
    const privateBucket = await createTestBucket(privateAdmin);
    const logger = capturingLogger();
    const store = createS3CheckpointStore({
      bucket: privateBucket.name,
      endpoint: server.url,
      forcePathStyle: true,
      logger,
      retain: 3,
      retryDelayMs: 100,
      maxRetryDelayMs: 1000,
    });
    try {
      const appId = randomAppId();
      const epoch = await store.acquireEpoch(appId);
      let back = false;
      const outage = server.restart({ downMs: 3000 }).then(() => (back = true));
      let seq = 0;
      while (!back || seq < 30) {
        seq++;
        await store.write(sampleCheckpoint(appId, { epoch, seq, time: seq * 1000 }));
      }
      await outage;
      expect(logger.debugs.filter((m) => m === 's3 request failed; retrying').length).toBeGreaterThan(0);
      expect((await store.latest(appId))?.checkpoint.seq).toBe(seq);
      expect(await store.list(appId)).toHaveLength(3);
      await privateBucket.remove();
    } finally {
      await store.close();
      privateAdmin.destroy();
      await server.stop();
    }
  });

  it('gives up after the configured retries with CHECKPOINT_STORE_UNAVAILABLE when the server stays down', async () => {
    const server = await startPrivateService('s3');
    const privateAdmin = adminClient(server.url);
    const privateBucket = await createTestBucket(privateAdmin);
    const store = createS3CheckpointStore({
      bucket: privateBucket.name,
      endpoint: server.url,
      forcePathStyle: true,
      logger: capturingLogger(),
      maxRetries: 2,
      retryDelayMs: 20,
    });
    try {
      const appId = randomAppId();
      const epoch = await store.acquireEpoch(appId);
      await server.stop();
      const error = await errorOf(store.write(sampleCheckpoint(appId, { epoch, seq: 1, time: 1000 })));
      expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
      expect((error as { details: { attempts: number } }).details.attempts).toBe(3);
    } finally {
      await store.close();
      privateAdmin.destroy();
      await server.stop();
    }
  });
});
