import { S3Client } from '@aws-sdk/client-s3';
import { isMicrobatchError } from '@microbatch/core';
import { createRecordingLogger, randomAppId, sampleCheckpoint } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { createS3CheckpointStore, type S3CheckpointStoreOptions } from '../src/index.js';
import { useTestBucket } from './support/bucket.js';
import { s3ConformanceSuite } from './support/conformance.js';
import { s3CrashSuite } from './support/crash.js';
import { usePrivateS3proxy } from './support/s3proxy.js';

const errorOf = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error);

/*
 * s3proxy 2.6.0 stands for the older S3-compatible servers: it answers 501 NotImplemented to the
 * AWS SDK's flexible-checksum headers, it ignores If-None-Match on PUT, and its filesystem backend
 * lists directories as "a/" keys.
 */
describe('against s3proxy 2.6.0', () => {
  const endpoint = usePrivateS3proxy('2.6.0');

  // Without If-None-Match the store falls back to check-then-write, which cannot keep the fencing
  // group's promises under concurrency (two takeovers at once may get one epoch): that group runs
  // against 4.1.0 only, and the probe tests below check the fallback's sequential fencing.
  describe('conformance', () => s3ConformanceSuite(endpoint, { fencing: false }));
  describe('crashes', () => s3CrashSuite(endpoint));

  describe('probe', () => {
    const { bucket } = useTestBucket(endpoint);
    const options = (extra: Partial<S3CheckpointStoreOptions>): S3CheckpointStoreOptions => ({
      bucket: bucket().name,
      endpoint: endpoint(),
      forcePathStyle: true,
      ...extra,
    });

    it('with the default checksum setting, finds that the server ignores conditional writes, warns once, and still fences one writer after another', async () => {
      const logger = createRecordingLogger();
      const store = createS3CheckpointStore(options({ logger }));
      const appId = randomAppId();
      expect(await store.acquireEpoch(appId)).toBe(1);
      await store.write(sampleCheckpoint(appId, { epoch: 1, seq: 1, time: 1000 }));
      expect(await store.acquireEpoch(appId)).toBe(2);
      expect(isMicrobatchError(await errorOf(store.write(sampleCheckpoint(appId, { epoch: 1, seq: 2, time: 2000 }))), 'FENCED')).toBe(true);
      expect((await store.latest(appId))?.checkpoint.seq).toBe(1);
      await store.close();
      expect(logger.messages.warn).toEqual(['the S3 server ignores conditional writes: epoch fencing falls back to check-then-write, not atomic']);
    });

    it('conditionalWrites "require" refuses the server with CHECKPOINT_STORE_UNAVAILABLE', async () => {
      const store = createS3CheckpointStore(options({ logger: createRecordingLogger(), conditionalWrites: 'require' }));
      const error = await errorOf(store.acquireEpoch(randomAppId()));
      await store.close();
      expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toMatch(/ignores If-None-Match on PUT; conditionalWrites is "require"/);
    });

    it('a server that rejects every PUT (the SDK checksum headers) is a clear error naming its answer, not a silent fallback', async () => {
      const logger = createRecordingLogger();
      const store = createS3CheckpointStore(options({ logger, prefix: 'rejected/', requestChecksumCalculation: 'WHEN_SUPPORTED' }));
      const error = await errorOf(store.acquireEpoch(randomAppId()));
      await store.close();
      expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
      expect((error as Error).message).toMatch(/rejects a plain PUT \(501 NotImplemented: /);
      expect((error as { cause?: { name?: string } }).cause?.name).toBe('NotImplemented');
      expect((error as { details: object }).details).toMatchObject({ status: 501, requestChecksumCalculation: 'WHEN_SUPPORTED' });
      expect(logger.messages.warn).toEqual([]);
      expect(await bucket().keys('rejected/')).toEqual([]);
    });

    it('a request the server does not implement (501) fails at once with its answer, not after the retries', async () => {
      // An injected client keeps its own checksum setting: here the SDK default, which 2.6.0 refuses.
      const client = new S3Client({ endpoint: endpoint(), forcePathStyle: true, region: 'us-east-1' });
      const store = createS3CheckpointStore({ bucket: bucket().name, client, conditionalWrites: 'off', logger: createRecordingLogger() });
      try {
        const error = await errorOf(store.acquireEpoch(randomAppId()));
        expect(isMicrobatchError(error, 'CHECKPOINT_STORE_UNAVAILABLE')).toBe(true);
        expect((error as Error).message).toMatch(/failed: 501 NotImplemented: /);
        expect((error as { details: object }).details).toMatchObject({ status: 501, attempts: 1 });
      } finally {
        await store.close();
        client.destroy();
      }
    });
  });
});
