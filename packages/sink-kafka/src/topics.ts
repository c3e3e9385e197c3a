import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { isUnknownTopic, unknownTopicError, type Where } from './errors.js';

// kafkajs' ConfigResourceTypes.TOPIC. Not imported: Node's ESM loader cannot see that export of
// the CommonJS kafkajs (it is assigned in a way cjs-module-lexer does not detect).
const TOPIC_RESOURCE = 2;

/** Kafka's default `message.max.bytes`, used when a topic does not say. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * What the sink must know of an output topic before a transaction begins: that it exists (a
 * producer would otherwise retry metadata for a minute, or auto-create it), and its
 * `max.message.bytes`, which bounds every record batch sent to it. Asked once per topic.
 */
export class TopicInfo {
  private readonly known = new Map<string, Promise<number>>();

  constructor(private readonly admin: () => Promise<Admin>) {}

  /** The topic's max.message.bytes; SINK_FAILED (`reason: 'unknown-topic'`) when it does not exist. */
  maxMessageBytes(topic: string, where: Where): Promise<number> {
    let info = this.known.get(topic);
    if (!info) {
      info = this.describe(topic, where);
      this.known.set(topic, info);
      // A failure (a missing topic, a broker down) is asked again next time: the topic may appear.
      info.catch(() => this.known.delete(topic));
    }
    return info;
  }

  forget(topic: string): void {
    this.known.delete(topic);
  }

  private async describe(topic: string, where: Where): Promise<number> {
    const admin = await this.admin();
    try {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ['max.message.bytes'] }],
      });
      const resource = resources[0];
      if (resource && resource.errorCode === 3) throw unknownTopicError(where, topic);
      const value = resource?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
      return value ? Number(value) : DEFAULT_MAX_MESSAGE_BYTES;
    } catch (error) {
      if (isUnknownTopic(error)) throw unknownTopicError(where, topic, error);
      throw error;
    }
  }
}

/**
 * Creates the compacted progress topic if missing. Several sinks may race to create it: "already
 * exists" is success. Waits until every partition has a leader (a KRaft broker answers
 * UNKNOWN_TOPIC_OR_PARTITION for a moment after creating a topic).
 */
export async function ensureProgressTopic(admin: Admin, topic: string, partitions: number, replicationFactor: number | undefined, timeoutMs: number): Promise<void> {
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    try {
      await admin.createTopics({
        waitForLeaders: false,
        topics: [
          {
            topic,
            numPartitions: partitions,
            ...(replicationFactor === undefined ? {} : { replicationFactor }),
            configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
          },
        ],
      });
    } catch (error) {
      if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      if (meta && meta.partitions.length > 0 && meta.partitions.every((p) => p.leader >= 0)) return;
    } catch (error) {
      const type = (error as { type?: string }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
    }
    if (Date.now() > deadline) throw new Error(`progress topic ${topic} has no leader for each partition after ${timeoutMs} ms`);
    await sleep(100);
  }
}
