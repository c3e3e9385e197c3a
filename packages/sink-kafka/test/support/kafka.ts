import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixKafkajs, readTopic } from '@microbatch/source-kafka';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, inject } from 'vitest';

export function brokers(): string[] {
  return inject('kafkaBrokers')
    .split(',')
    .map((b) => b.trim().replace(/^kafka:\/\//, ''))
    .filter(Boolean);
}

/** Fresh, randomly named topic per test. */
export function topicName(label: string): string {
  return `mbsink-${label}-${randomUUID().slice(0, 8)}`;
}

let shared: { kafka: Kafka; admin: Promise<Admin> } | undefined;

/** One admin client per test file, disconnected after it. */
export function admin(): Promise<Admin> {
  if (!shared) {
    fixKafkajs(); // the tests' own admin client too
    const kafka = new Kafka({ clientId: 'sink-kafka-test', brokers: brokers(), logLevel: logLevel.NOTHING });
    const a = kafka.admin();
    shared = { kafka, admin: a.connect().then(() => a) };
    afterAll(async () => {
      await (await shared?.admin)?.disconnect();
      shared = undefined;
    });
  }
  return shared.admin;
}

export async function createTopic(topic: string, partitions = 1, config: Record<string, string> = {}): Promise<void> {
  const a = await admin();
  await a.createTopics({
    waitForLeaders: false,
    topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }],
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const [meta] = (await a.fetchTopicMetadata({ topics: [topic] })).topics;
      if (meta?.partitions.length === partitions && meta.partitions.every((p) => p.leader >= 0)) return;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic} has no leaders after 30 s`);
    await sleep(100);
  }
}

export async function deleteTopics(topics: string[]): Promise<void> {
  const a = await admin();
  const existing = new Set(await a.listTopics());
  const present = topics.filter((t) => existing.has(t));
  if (present.length > 0) await a.deleteTopics({ topics: present });
}

export interface ReadBackRecord {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
  readonly headers: Record<string, string>;
}

/** Every record of `topic` a read_committed consumer sees (all partitions, earliest to the last stable offset). */
export async function readCommitted(topic: string, isolationLevel: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<ReadBackRecord[]> {
  const records = await readTopic({ brokers: brokers(), topic, isolationLevel, clientId: 'sink-kafka-verify' });
  return records.map((r) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers)) headers[k] = String(v);
    return { partition: r.partition, offset: r.offset, key: r.key?.toString('utf8') ?? null, value: r.value?.toString('utf8') ?? null, headers };
  });
}
