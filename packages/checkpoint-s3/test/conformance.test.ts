import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '@microbatch/core';
import { checkpointStoreSuite } from '@microbatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3CheckpointStore } from '../src/index.js';
import { adminClient, createTestBucket } from './support/bucket.js';

const admin = adminClient();
let bucket: Awaited<ReturnType<typeof createTestBucket>>;
beforeAll(async () => {
  bucket = await createTestBucket(admin);
});
afterAll(async () => {
  await bucket.remove();
  admin.destroy();
});

checkpointStoreSuite({
  describe,
  it,
  expect,
  createStore: (options) =>
    createS3CheckpointStore({ logger: silentLogger, ...options, bucket: bucket.name, endpoint: process.env.S3_ENDPOINT, forcePathStyle: true }),
  // Overwrites the checkpoint's data object directly, as a hand edit in the bucket would.
  async overwriteCheckpoint(appId, name, bytes) {
    const newest = (await bucket.keys(`microbatch/${appId}/head/`)).sort().at(-1)!;
    const head = await admin.send(new GetObjectCommand({ Bucket: bucket.name, Key: newest }));
    const epoch = (JSON.parse(await head.Body!.transformToString()) as { checkpoints: Record<string, number> }).checkpoints[name];
    if (epoch === undefined) throw new Error(`no checkpoint ${appId}/${name} to overwrite`);
    const key = `microbatch/${appId}/checkpoints/${name}.e${String(epoch).padStart(10, '0')}`;
    await admin.send(new PutObjectCommand({ Bucket: bucket.name, Key: key, Body: bytes }));
  },
});
