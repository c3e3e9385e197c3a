import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/** Checkpoint URIs of each store for the sample's `--checkpoint`, each under fresh, random names. */
export const checkpointStores: ReadonlyArray<readonly [label: string, uri: () => Promise<string>]> = [
  ['filesystem', async () => 'fs:.microbatch/checkpoints'],
  ['Redis', async () => `${process.env.REDIS_URL}?prefix=sample-${randomBytes(4).toString('hex')}:`],
  [
    'S3',
    async () => {
      const bucket = `sample-${randomBytes(5).toString('hex')}`;
      const s3 = new S3Client({ endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, region: process.env.AWS_REGION });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      s3.destroy();
      return `s3://${bucket}/checkpoints?endpoint=${encodeURIComponent(process.env.S3_ENDPOINT!)}`;
    },
  ],
];
