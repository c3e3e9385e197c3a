import { sourceSuite } from '@microbatch/testkit';
import type { Admin, Producer } from 'kafkajs';
import { describe, it } from 'vitest';
import { createKafkaSource, type KafkaRecord } from '../src/index.js';
import { brokers, connectClients, createTopic, produce, topicName } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

for (const subscription of ['topics', 'topicPattern'] as const) {
  sourceSuite<KafkaRecord<string | null>>({
    describe,
    it,
    name: `Kafka source conformance (${subscription})`,
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
