import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDefaultLogger, silentLogger, type ReadContext } from '@microbatch/core';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, inject } from 'vitest';
import { fixKafkajs } from '../src/kafkajs/fixes.js';

export function brokers(): string[] {
  return inject('kafkaBrokers')
    .split(',')
    .map((b) => b.trim().replace(/^kafka:\/\//, ''))
    .filter(Boolean);
}

export function testKafka(list: string[] = brokers()): Kafka {
  fixKafkajs(); // the tests' own clients too (no TimeoutNegativeWarning in the test output)
  return new Kafka({ clientId: 'source-kafka-test', brokers: list, logLevel: logLevel.NOTHING });
}

/** Fresh, randomly named topic per test. */
export function topicName(label: string): string {
  return `mbtest-${label}-${randomUUID().slice(0, 8)}`;
}

export async function createTopic(admin: Admin, topic: string, partitions: number, config: Record<string, string> = {}): Promise<void> {
  await admin.createTopics({
    waitForLeaders: false,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }],
  });
  await waitForPartitions(admin, topic, partitions);
}

/**
 * Waits until the broker's metadata lists `partitions` partitions of `topic`, each with a leader:
 * kafkajs' waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker answers
 * until it has applied a new topic's metadata (seen on a loaded machine), and a producer whose
 * metadata lacks a partition added by createPartitions drops what is sent to it.
 */
export async function waitForPartitions(admin: Admin, topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      if (meta?.partitions.length === partitions && meta.partitions.every((p) => p.leader >= 0)) return;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic} has no leader for each of its ${partitions} partitions after 30 s`);
    await sleep(100);
  }
}

export async function produce(producer: Producer, topic: string, partition: number, values: readonly (string | Buffer | null)[]): Promise<void> {
  const written = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
  // kafkajs silently drops messages for a partition missing from its (stale) metadata.
  if (values.length > 0 && written.length === 0) throw new Error(`the producer did not write to ${topic}:${partition} (stale metadata?)`);
}

export function readContext(signal: AbortSignal = new AbortController().signal): ReadContext {
  return { appId: 'source-kafka-test', batchTime: Date.now(), attempt: 1, signal, logger: silentLogger };
}

// MB_TEST_LOG=1 shows the source's warnings (retries, kafkajs errors) on stderr.
export const openContext = { appId: 'source-kafka-test', logger: process.env.MB_TEST_LOG ? createDefaultLogger() : silentLogger };

/** Connects an admin and a producer for the whole test file (vitest hooks) and hands them over, with their Kafka client. */
export function connectClients(receive: (clients: { kafka: Kafka; admin: Admin; producer: Producer }) => void): void {
  let clients: { kafka: Kafka; admin: Admin; producer: Producer } | undefined;
  beforeAll(async () => {
    const kafka = testKafka();
    clients = { kafka, admin: kafka.admin(), producer: kafka.producer() };
    await Promise.all([clients.admin.connect(), clients.producer.connect()]);
    receive(clients);
  });
  afterAll(async () => {
    await Promise.all([clients?.admin.disconnect(), clients?.producer.disconnect()]);
  });
}

export interface PrivateKafka {
  url: string;
  /** SIGTERM, stay down `downMs`, start again on the same port and data. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** SIGKILL; the broker stays down until start(). */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const servicesModule = new URL('../../../tools/services/src/index.mjs', import.meta.url).href;

/**
 * A private broker on a free port for the whole test file (vitest hooks): tests that take the
 * broker down use it, as no test may do that to the shared one. Read it inside tests.
 */
export function privateBroker(): () => PrivateKafka {
  let broker: PrivateKafka | undefined;
  beforeAll(async () => {
    const { startPrivateService } = (await import(servicesModule)) as { startPrivateService(name: string): Promise<PrivateKafka> };
    broker = await startPrivateService('kafka');
  }, 180_000);
  afterAll(async () => {
    await broker?.stop();
  });
  return () => {
    if (!broker) throw new Error('the private broker has not started');
    return broker;
  };
}

/** Polls until `condition` holds; fails with `what` after `timeoutMs` (a bound, not a timing assertion). */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
