import { S3Client } from '@aws-sdk/client-s3';
import { checkpointName, isMicrobatchError } from '@microbatch/core';
import { createRecordingLogger, randomAppId, sampleCheckpoint } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { startPrivateService } from '../../../tools/services/src/index.mjs';
import { createS3CheckpointStore, type S3CheckpointStoreOptions } from '../src/index.js';
import { adminClient, createTestBucket, useTestBucket } from './support/bucket.js';

const errorOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

const { bucket: testBucket } = useTestBucket();

/**
 * A real S3 client whose next head-version create, once armed, waits until released: a process
 * frozen between uploading a checkpoint and committing it (a GC pause, a stopped VM, a crash if
 * never released).
 */
function stallingClient() {
  const client = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1' });
  let armed = false;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const stalled = new Promise<void>((resolve) => (reached = resolve));
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { Key?: string; IfNoneMatch?: string };
      if (armed && input.IfNoneMatch === '*' && input.Key?.includes('/head/')) {
        armed = false;
        reached();
        await gate;
      }
      return next(args);
    },
    { step: 'initialize', name: 'stallHeadCreate' },
  );
  return { client, arm: () => (armed = true), stalled, release };
}

const storeOptions = (extra: Partial<S3CheckpointStoreOptions> = {}): S3CheckpointStoreOptions => ({
  bucket: testBucket().name,
  endpoint: process.env.S3_ENDPOINT,
  forcePathStyle: true,
  logger: createRecordingLogger(),
  ...extra,
});

describe('s3 checkpoint store', () => {
  it('stores one object per checkpoint, named so that the bucket listing sorts by batch time', async () => {
    const store = createS3CheckpointStore(storeOptions({ prefix: 'layout/' }));
    const appId = randomAppId();
    const epoch = await store.acquireEpoch(appId);
    for (const [seq, time] of [[1, 9000], [2, 10_000], [3, 200_000]] as const) await store.write(sampleCheckpoint(appId, { epoch, seq, time }));
    await store.close();
    const keys = await testBucket().keys(`layout/${appId}/checkpoints/`);
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
    expect(await testBucket().keys(`fenced/${appId}/checkpoints/`)).toEqual([]);
  });

  it('uses an injected client and leaves it usable; close is safe twice', async () => {
    const client = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: 'us-east-1' });
    try {
      const store = createS3CheckpointStore({ bucket: testBucket().name, client, logger: createRecordingLogger() });
      const appId = randomAppId();
      expect(await store.acquireEpoch(appId)).toBe(1);
      await store.close();
      await store.close();
      const again = createS3CheckpointStore({ bucket: testBucket().name, client, logger: createRecordingLogger() });
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
    for (const option of ['requestChecksumCalculation', 'responseChecksumValidation'] as const) {
      expect(() => createS3CheckpointStore({ bucket: 'b', [option]: 'ALWAYS' as 'WHEN_REQUIRED' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining(option) }));
    }
  });

  it('refuses a blob key ending in "/", which listings skip as a folder placeholder', async () => {
    const store = createS3CheckpointStore(storeOptions());
    const appId = randomAppId();
    const epoch = await store.acquireEpoch(appId);
    const error = await errorOf(store.putBlob(appId, `e${String(epoch).padStart(10, '0')}/dir/`, Buffer.from('x'), epoch));
    await store.close();
    expect(isMicrobatchError(error, 'INVALID_OPTION')).toBe(true);
  });

  it('finds that the server honours conditional writes, and warns when they are switched off', async () => {
    const probed = createRecordingLogger();
    const store = createS3CheckpointStore(storeOptions({ conditionalWrites: 'require', logger: probed }));
    await store.acquireEpoch(randomAppId());
    await store.close();
    expect(probed.messages.warn).toEqual([]);
    const off = createRecordingLogger();
    const unfenced = createS3CheckpointStore(storeOptions({ conditionalWrites: 'off', logger: off }));
    await unfenced.acquireEpoch(randomAppId());
    await unfenced.acquireEpoch(randomAppId());
    await unfenced.close();
    expect(off.messages.warn.filter((w) => w.includes('not atomic'))).toHaveLength(1);
  });

  it('a writer stalled before its commit while 20 others pass (its head version pruned meanwhile) is fenced, not silently lost', async () => {
    // The zombie's client holds its next head-version create until the successor has moved on.
    const { client: zombieClient, arm, stalled, release } = stallingClient();
    const prefix = 'stall/';
    const zombie = createS3CheckpointStore({ bucket: testBucket().name, client: zombieClient, prefix, logger: createRecordingLogger() });
    const successor = createS3CheckpointStore(storeOptions({ prefix }));
    try {
      const appId = randomAppId();
      const old = await zombie.acquireEpoch(appId);
      await zombie.write(sampleCheckpoint(appId, { epoch: old, seq: 1, time: 1000 }));
      arm();
      const late = sampleCheckpoint(appId, { epoch: old, seq: 2, time: 2000 });
      const zombieWrite = errorOf(zombie.write(late));
      await stalled;
      const current = await successor.acquireEpoch(appId);
      for (let seq = 3; seq <= 22; seq++) await successor.write(sampleCheckpoint(appId, { epoch: current, seq, time: seq * 1000 }));
      release();
      expect(isMicrobatchError(await zombieWrite, 'FENCED')).toBe(true);
      expect(await successor.list(appId)).not.toContain(checkpointName(late));
      expect((await successor.latest(appId))?.checkpoint.seq).toBe(22);
      expect(await testBucket().keys(`${prefix}${appId}/checkpoints/${checkpointName(late)}`)).toEqual([]);
    } finally {
      release();
      await zombie.close();
      await successor.close();
      zombieClient.destroy();
    }
  });

  it('a writer whose last head is 20 versions stale (its next number pruned) is fenced on its next write, and leaves no head behind', async () => {
    // The writer starts its next head update from the version it created last, without reading:
    // here that version and the next number are long gone, as for a process paused between batches.
    const prefix = 'stale-guess/';
    const zombie = createS3CheckpointStore(storeOptions({ prefix }));
    const successor = createS3CheckpointStore(storeOptions({ prefix }));
    try {
      const appId = randomAppId();
      const old = await zombie.acquireEpoch(appId);
      await zombie.write(sampleCheckpoint(appId, { epoch: old, seq: 1, time: 1000 }));
      const current = await successor.acquireEpoch(appId);
      for (let seq = 3; seq <= 22; seq++) await successor.write(sampleCheckpoint(appId, { epoch: current, seq, time: seq * 1000 }));
      const heads = await testBucket().keys(`${prefix}${appId}/head/`);
      const late = sampleCheckpoint(appId, { epoch: old, seq: 2, time: 2000 });
      expect(isMicrobatchError(await errorOf(zombie.write(late)), 'FENCED')).toBe(true);
      expect(await successor.list(appId)).not.toContain(checkpointName(late));
      expect((await successor.latest(appId))?.checkpoint.seq).toBe(22);
      expect(await testBucket().keys(`${prefix}${appId}/head/`)).toEqual(heads);
      expect(await testBucket().keys(`${prefix}${appId}/checkpoints/${checkpointName(late)}`)).toEqual([]);
    } finally {
      await zombie.close();
      await successor.close();
    }
  });

  it('a writer that dies between upload and commit leaves the previous checkpoint current, and its upload is swept', async () => {
    const { client, arm, stalled, release } = stallingClient();
    const prefix = 'crash/';
    const dying = createS3CheckpointStore({ bucket: testBucket().name, client, prefix, logger: createRecordingLogger() });
    const next = createS3CheckpointStore(storeOptions({ prefix }));
    try {
      const appId = randomAppId();
      const epoch = await dying.acquireEpoch(appId);
      const committed = sampleCheckpoint(appId, { epoch, seq: 1, time: 1000 });
      await dying.write(committed);
      arm();
      void dying.write(sampleCheckpoint(appId, { epoch, seq: 2, time: 2000 })).catch(() => {});
      await stalled; // uploaded, never committed: as if the process had died here
      expect(await testBucket().keys(`${prefix}${appId}/checkpoints/`)).toHaveLength(2);
      const latest = await next.latest(appId);
      expect(latest?.checkpoint).toEqual(committed);
      expect(latest?.skipped).toEqual([]);
      await next.acquireEpoch(appId);
      expect(await testBucket().keys(`${prefix}${appId}/checkpoints/`)).toEqual([
        `${prefix}${appId}/checkpoints/${checkpointName(committed)}.e0000000001`,
      ]);
    } finally {
      await next.close();
      client.destroy();
      release();
      await dying.close();
    }
  });

  it('fails with CHECKPOINT_STORE_UNAVAILABLE, not a retry loop, when the bucket does not exist', async () => {
    const store = createS3CheckpointStore(storeOptions({ bucket: `${testBucket().name}-missing` }));
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
    const logger = createRecordingLogger();
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
      expect(logger.messages.debug.filter((m) => m === 's3 request failed; retrying').length).toBeGreaterThan(0);
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
      logger: createRecordingLogger(),
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
