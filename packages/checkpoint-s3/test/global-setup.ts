// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { ensureServices } from '../../../tools/services/src/index.mjs';

/**
 * Reuses the S3 server on S3_ENDPOINT (or the default port) or starts s3proxy; stops only what it
 * started. The local server takes any key, so a fixed one is provided when none is set, and the
 * stores under test find it through the AWS SDK's default provider chain like in production.
 */
export default async function setup(): Promise<() => Promise<void>> {
  process.env.AWS_ACCESS_KEY_ID ??= 'microbatch-local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'microbatch-local-secret';
  process.env.AWS_REGION ??= 'us-east-1';
  const services = await ensureServices(['s3']);
  return () => services.stop();
}
