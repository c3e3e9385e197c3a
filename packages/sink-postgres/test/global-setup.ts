import { services } from './support/services.js';

/** Real PostgreSQL (and Redis, for the shared helpers) for `pnpm --filter @microbatch/sink-postgres test` alone. */
export default async function setup(): Promise<() => Promise<void>> {
  const running = await (await services()).ensureServices(['postgres', 'redis']);
  return () => running.stop();
}
