import { sourceSuite } from '@microbatch/testkit';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { describe, it } from 'vitest';
import { createKafkaSource, type KafkaRecord } from '../src/index.js';
import { brokers, connectClients, createTopic, produce, topicName, waitForPartitions } from './helpers.js';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ kafka, admin, producer } = clients));

async function produceFresh(topic: string, partition: number, values: readonly string[]): Promise<void> {
  const fresh = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await fresh.connect();
  try {
    await produce(fresh, topic, partition, values);
  } finally {
    await fresh.disconnect();
  }
}

// Both readers pass the suite: the default (fetch) for both subscriptions, the consumer reader for topics.
for (const [subscription, reader] of [
  ['topics', 'fetch'],
  ['topicPattern', 'fetch'],
  ['topics', 'consumer'],
] as const) {
  sourceSuite<KafkaRecord<string | null>>({
    describe,
    it,
    name: `Kafka source conformance (${subscription}, reader "${reader}")`,
    valueOf: (record) => record.value ?? '<null>',
    offsetOf: (record) => record.offset,
    features: { truncate: true, addPartition: true },
    async createLog({ partitions }) {
      // Topics are left in place: deleting them would break the shared producer's metadata refresh.
      const topic = topicName('conf');
      await createTopic(admin, topic, partitions);
      const ids = Array.from({ length: partitions }, (_, i) => `${topic}:${i}`);
      return {
        partitions: ids,
        // The shared producer drops records for a partition its metadata lacks (one addPartition
        // made): those go through a new producer, which reads the metadata afresh.
        append: (index, values) => (index < partitions ? produce(producer, topic, index, values) : produceFresh(topic, index, values)),
        createSource: ({ startingOffsets = 'earliest' } = {}) =>
          createKafkaSource({
            brokers: brokers(),
            ...(subscription === 'topics' ? { topics: [topic] } : { topicPattern: new RegExp(`^${topic}$`) }),
            deserializer: 'string',
            startingOffsets,
            readTimeoutMs: 20_000,
            reader,
          }),
        async truncate(index, before) {
          await admin.fetchTopicOffsets(topic); // loads the topic's leaders into the admin's metadata
          await admin.deleteTopicRecords({ topic, partitions: [{ partition: index, offset: String(before) }] });
        },
        async addPartition() {
          await admin.createPartitions({ topicPartitions: [{ topic, count: ids.length + 1 }] });
          await waitForPartitions(admin, topic, ids.length + 1);
          ids.push(`${topic}:${ids.length}`);
          return ids[ids.length - 1]!;
        },
      };
    },
  });
}
