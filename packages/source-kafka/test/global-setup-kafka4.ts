import type { TestProject } from 'vitest/node';

/** The Kafka 4.x release the `kafka-4` project runs against (a private broker, from Maven Central). */
export const KAFKA_4_VERSION = '4.1.2';

const servicesModule = new URL('../../../tools/services/src/index.mjs', import.meta.url).href;

export default async function setup(project: TestProject) {
  const { startPrivateService } = (await import(servicesModule)) as {
    startPrivateService(name: string, options: { version: string }): Promise<{ url: string; stop(): Promise<void> }>;
  };
  const broker = await startPrivateService('kafka', { version: KAFKA_4_VERSION });
  project.provide('kafkaBrokers', broker.url);
  return () => broker.stop();
}
