import { setTimeout as sleep } from 'node:timers/promises';
import { fixKafkajs, readTopic as readWholeTopic } from '@microbatch/source-kafka';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { outputTopics } from './kafka-outputs.js';
import type { KafkaSinkSpec } from './uris.js';

/** The four output topics, in the order verify reports them. */
export const dataTopics = (prefix: string): string[] => {
  const t = outputTopics(prefix);
  return [t.eventsRaw, t.pageViews, t.userTotals, t.eventsRejected];
};

async function withAdmin<R>(spec: KafkaSinkSpec, fn: (admin: Admin) => Promise<R>): Promise<R> {
  fixKafkajs();
  const admin = new Kafka({ clientId: 'microbatch-sample-admin', brokers: spec.brokers, logLevel: logLevel.ERROR }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Which of the output topics (and the progress topic) exist already. */
export async function existingOutputTopics(spec: KafkaSinkSpec): Promise<string[]> {
  const wanted = [...dataTopics(spec.prefix), outputTopics(spec.prefix).progress];
  const existing = new Set(await withAdmin(spec, (admin) => admin.listTopics()));
  return wanted.filter((t) => existing.has(t));
}

/**
 * Creates the missing output topics (the sink never creates output topics), with `partitions`
 * partitions each and the broker's default replication, and waits until every partition has a
 * leader. A concurrent creator (another run) is fine.
 */
export async function ensureOutputTopics(spec: KafkaSinkSpec, partitions: number): Promise<void> {
  await withAdmin(spec, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const missing = dataTopics(spec.prefix).filter((t) => !existing.has(t));
    if (missing.length > 0) {
      try {
        await admin.createTopics({ waitForLeaders: false, topics: missing.map((topic) => ({ topic, numPartitions: partitions })) });
      } catch (error) {
        if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
      }
    }
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: dataTopics(spec.prefix) });
        if (topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (error) {
        const type = (error as { type?: string }).type;
        if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
      }
      if (Date.now() > deadline) throw new Error(`the output topics of ${spec.prefix} have no leader after 30 s`);
      await sleep(100);
    }
  });
}

export interface TopicEntry {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: string | null;
}

/**
 * Every record of `topic` a read_committed consumer sees, partition by partition in offset order:
 * records of aborted transactions are never returned. (`read_uncommitted` shows them too: the
 * crash test's evidence that kills landed inside open transactions.)
 */
export async function readTopic(spec: KafkaSinkSpec, topic: string, isolationLevel: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<TopicEntry[]> {
  const records = await readWholeTopic({ brokers: spec.brokers, topic, isolationLevel, clientId: 'microbatch-sample-verify' });
  return records.map((r) => ({ partition: r.partition, offset: r.offset, key: r.key?.toString('utf8') ?? null, value: r.value?.toString('utf8') ?? null }));
}
