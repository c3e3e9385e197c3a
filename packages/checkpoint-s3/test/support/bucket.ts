import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** A client for setting up and inspecting buckets; no flexible checksums, which older servers refuse (see README). */
export function adminClient(endpoint = process.env.S3_ENDPOINT!): S3Client {
  return new S3Client({
    endpoint,
    forcePathStyle: true,
    region: process.env.AWS_REGION ?? 'us-east-1',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** A fresh, randomly named bucket; `remove()` empties and deletes it. */
export async function createTestBucket(client: S3Client): Promise<{ name: string; keys(prefix?: string): Promise<string[]>; remove(): Promise<void> }> {
  const name = `mbtest-${randomBytes(6).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: name }));
  const keys = async (prefix = '') => {
    const found: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: name, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) found.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found;
  };
  return {
    name,
    keys,
    async remove() {
      // Deepest first: s3proxy 2.6.0 lists directories as "a/" keys and stalls deleting a non-empty one.
      for (const key of (await keys()).sort().reverse()) await client.send(new DeleteObjectCommand({ Bucket: name, Key: key }));
      await client.send(new DeleteBucketCommand({ Bucket: name }));
    },
  };
}

/**
 * A fresh bucket for one test file or describe block (created before, removed after) on the S3
 * server at `endpoint()` (default: the shared one, S3_ENDPOINT), and its admin client.
 */
export function useTestBucket(endpoint: () => string = () => process.env.S3_ENDPOINT!): {
  admin: () => S3Client;
  bucket: () => Awaited<ReturnType<typeof createTestBucket>>;
} {
  let admin: S3Client | undefined;
  let bucket: Awaited<ReturnType<typeof createTestBucket>> | undefined;
  beforeAll(async () => {
    admin = adminClient(endpoint());
    bucket = await createTestBucket(admin);
  });
  afterAll(async () => {
    await bucket?.remove();
    admin?.destroy();
  });
  const inside = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the test bucket exists only inside tests');
    return value;
  };
  return { admin: () => inside(admin), bucket: () => inside(bucket) };
}
