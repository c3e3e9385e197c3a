// Write/read latency of the S3 checkpoint store for 64 and 1024 partitions (a benchmark, not a test).
// Run after building: pnpm --filter @microbatch/checkpoint-s3... build && node packages/checkpoint-s3/bench/latency.mjs
// Uses S3_ENDPOINT when set, else the local s3proxy of tools/services; AWS credentials from the default chain.
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { silentLogger } from '@microbatch/core';
import { checkpointLatencyReport } from '@microbatch/testkit';
import { ensureServices } from '../../../tools/services/src/index.mjs';
import { createS3CheckpointStore } from '../dist/index.js';

process.env.AWS_ACCESS_KEY_ID ??= 'microbatch-local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'microbatch-local-secret';
process.env.AWS_REGION ??= 'us-east-1';
const services = await ensureServices(['s3']);
const endpoint = process.env.S3_ENDPOINT;
const admin = new S3Client({ endpoint, forcePathStyle: true });
const bucket = `mbbench-${randomBytes(6).toString('hex')}`;
await admin.send(new CreateBucketCommand({ Bucket: bucket }));
const store = createS3CheckpointStore({ bucket, endpoint, forcePathStyle: true, logger: silentLogger });
try {
  console.log(await checkpointLatencyReport(store, { iterations: 100, warmup: 50 }));
} finally {
  await store.close();
  let token;
  do {
    const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) await admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
  admin.destroy();
  await services.stop();
}
