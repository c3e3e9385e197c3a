import { sourceSuite } from '@microbatch/testkit';
import type { Admin, Producer } from 'kafkajs';
import { describe, it } from 'vitest';
import { createKafkaSource, type KafkaRecord } from '../src/index.js';
import { brokers, connectClients, createTopic, produce, topicName } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

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
        append: (index, values) => produce(producer, topic, index, values),
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
          ids.push(`${topic}:${ids.length}`);
          return ids[ids.length - 1]!;
        },
      };
    },
  });
}
