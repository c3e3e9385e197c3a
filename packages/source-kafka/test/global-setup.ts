import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    /** Redis for the async deserializer's lookups (test/async-deserializer.test.ts). */
    redisUrl: string;
  }
}

// The repo's service mechanism: reuses KAFKA_BROKERS or a broker on :9092, else starts Kafka 3.9;
// the same for Redis (REDIS_URL).
const servicesModule = new URL('../../../tools/services/src/index.mjs', import.meta.url).href;

export default async function setup(project: TestProject) {
  const { ensureServices } = (await import(servicesModule)) as {
    ensureServices(names: string[]): Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
  };
  const services = await ensureServices(['kafka', 'redis']);
  project.provide('kafkaBrokers', services.env.KAFKA_BROKERS!);
  project.provide('redisUrl', services.env.REDIS_URL!);
  return () => services.stop();
}
