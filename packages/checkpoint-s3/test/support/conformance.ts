import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '@microbatch/core';
import { checkpointStoreSuite, type CheckpointStoreSuiteFeatures } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { createS3CheckpointStore } from '../../src/index.js';
import { useTestBucket } from './bucket.js';

/** The checkpoint store conformance suite in a fresh bucket on the S3 server at `endpoint()`. */
export function s3ConformanceSuite(endpoint: () => string, features?: CheckpointStoreSuiteFeatures): void {
  const { admin, bucket: testBucket } = useTestBucket(endpoint);
  checkpointStoreSuite({
    describe,
    it,
    expect,
    ...(features === undefined ? {} : { features }),
    createStore: (options) =>
      createS3CheckpointStore({ logger: silentLogger, ...options, bucket: testBucket().name, endpoint: endpoint(), forcePathStyle: true }),
    // Overwrites the checkpoint's data object directly, as a hand edit in the bucket would.
    async overwriteCheckpoint(appId, name, bytes) {
      const newest = (await testBucket().keys(`microbatch/${appId}/head/`)).sort().at(-1)!;
      const head = await admin().send(new GetObjectCommand({ Bucket: testBucket().name, Key: newest }));
      const epoch = (JSON.parse(await head.Body!.transformToString()) as { checkpoints: Record<string, number> }).checkpoints[name];
      if (epoch === undefined) throw new Error(`no checkpoint ${appId}/${name} to overwrite`);
      const key = `microbatch/${appId}/checkpoints/${name}.e${String(epoch).padStart(10, '0')}`;
      await admin().send(new PutObjectCommand({ Bucket: testBucket().name, Key: key, Body: bytes }));
    },
  });
}
