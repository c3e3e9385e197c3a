import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

export function adminClient(endpoint = process.env.S3_ENDPOINT!): S3Client {
  return new S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION ?? 'us-east-1' });
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
      for (const key of await keys()) await client.send(new DeleteObjectCommand({ Bucket: name, Key: key }));
      await client.send(new DeleteBucketCommand({ Bucket: name }));
    },
  };
}

/** A fresh bucket on the shared S3 server for one test file (created before, removed after), and its admin client. */
export function useTestBucket(): { admin: S3Client; bucket: () => Awaited<ReturnType<typeof createTestBucket>> } {
  const admin = adminClient();
  let bucket: Awaited<ReturnType<typeof createTestBucket>> | undefined;
  beforeAll(async () => {
    bucket = await createTestBucket(admin);
  });
  afterAll(async () => {
    await bucket?.remove();
    admin.destroy();
  });
  return {
    admin,
    bucket: () => {
      if (!bucket) throw new Error('the test bucket exists only inside tests');
      return bucket;
    },
  };
}
