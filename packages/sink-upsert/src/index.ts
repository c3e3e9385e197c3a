export { upsertSink, lastPerKey, type UpsertSink, type UpsertSinkOptions } from './upsert-sink.js';
export type { FenceContext, UpsertTarget } from './target.js';
export { postgresUpsert, type PostgresUpsertOptions } from './postgres-target.js';
export { redisUpsert, type RedisUpsertOptions, type RedisStringOptions, type RedisHashOptions } from './redis-target.js';
