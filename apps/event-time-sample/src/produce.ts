import { Kafka, logLevel } from 'kafkajs';
import { eventAt, type Generation } from './generate.js';

/** Writes the generator's events to a new topic: event (p, o) to partition p at offset o. */
export async function produceEvents(brokers: string[], topic: string, g: Generation): Promise<void> {
  const kafka = new Kafka({ clientId: 'event-time-sample-producer', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await admin.connect();
  await producer.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: g.partitions, replicationFactor: 1 }], waitForLeaders: true });
    for (let partition = 0; partition < g.partitions; partition++) {
      const messages = Array.from({ length: g.perPartition }, (_, offset) => ({ partition, value: JSON.stringify(eventAt(g, partition, offset)) }));
      await producer.send({ topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}
