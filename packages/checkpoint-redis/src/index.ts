export { createRedisCheckpointBackend, createRedisCheckpointStore, type RedisCheckpointStoreOptions } from './redis-store.js';
