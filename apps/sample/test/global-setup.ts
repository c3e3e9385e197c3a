// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { ensureServices } from '../../../tools/services/src/index.mjs';

/** Real Kafka, PostgreSQL, Redis and S3 for the sample's end-to-end tests; stops only what it started. */
export default async function setup(): Promise<() => Promise<void>> {
  // The local S3 server takes any key; the app finds it through the AWS default provider chain.
  process.env.AWS_ACCESS_KEY_ID ??= 'microbatch-local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'microbatch-local-secret';
  process.env.AWS_REGION ??= 'us-east-1';
  const services = await ensureServices(['postgres', 'redis', 'kafka', 's3']);
  return () => services.stop();
}
