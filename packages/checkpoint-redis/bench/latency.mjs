// Write/read latency of the Redis checkpoint store for 64 and 1024 partitions (a benchmark, not a test).
// Run after building: pnpm --filter @microbatch/checkpoint-redis... build && node packages/checkpoint-redis/bench/latency.mjs
import { ensureServices } from '../../../tools/services/src/index.mjs';
import { checkpointLatencyReport } from '@microbatch/testkit';
import { silentLogger } from '@microbatch/core';
import { createRedisCheckpointStore } from '../dist/index.js';

const services = await ensureServices(['redis']);
const store = createRedisCheckpointStore({ url: process.env.REDIS_URL, keyPrefix: `mbbench:${process.pid}:`, logger: silentLogger });
try {
  console.log(await checkpointLatencyReport(store));
} finally {
  await store.close();
  // Remove what the benchmark wrote (only its own prefix; the shared Redis is never flushed).
  const { Redis } = await import('ioredis');
  const admin = new Redis(process.env.REDIS_URL);
  const keys = await admin.keys(`mbbench:${process.pid}:*`);
  if (keys.length > 0) await admin.del(...keys);
  admin.disconnect();
  await services.stop();
}
