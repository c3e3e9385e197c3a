// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { ensureServices } from '../../../tools/services/src/index.mjs';

/** Reuses the Redis on REDIS_URL or 127.0.0.1:6379, or starts one; stops only what it started. */
export default async function setup(): Promise<() => Promise<void>> {
  const services = await ensureServices(['redis']);
  return () => services.stop();
}
