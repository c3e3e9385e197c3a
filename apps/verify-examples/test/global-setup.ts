// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { ensureServices } from '../../../tools/services/src/index.mjs';

/** Real Kafka, PostgreSQL and Redis for the verifier's end-to-end tests; stops only what it started. */
export default async function setup(): Promise<() => Promise<void>> {
  const services = await ensureServices(['postgres', 'kafka', 'redis']);
  return () => services.stop();
}
