import { Kafka, logLevel } from 'kafkajs';
import { rawRecord, recordsInPartition, userOf } from '../generate.js';
import { UsageError, brokersFrom, helpText, parseFlags, shapeFlags, type FlagSpec } from '../options.js';

export const produceFlags: FlagSpec[] = [
  { name: 'brokers', kind: 'string', help: 'Kafka brokers, host:port[,host:port]' },
  { name: 'topic', kind: 'string', default: 'events', help: 'topic to create and fill (must not exist or be empty)' },
  ...shapeFlags,
];

export const produceHelp = helpText('produce', 'write the generated events to a new Kafka topic (key: user id)', produceFlags);

/**
 * Writes exactly the generator's records: record (p, o) to partition p, in offset order, with an
 * idempotent producer, so on a new topic it lands at offset o and `verify` can expect it there.
 */
export async function produce(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const o = parseFlags(argv, produceFlags);
  const brokers = brokersFrom(o.brokers as string | undefined);
  const shape = { events: o.events as number, partitions: o.partitions as number, seed: o.seed as number };
  if (shape.partitions < 1) throw new UsageError('--partitions must be at least 1');
  const topic = o.topic as string;
  const kafka = new Kafka({ clientId: 'microbatch-sample-producer', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await admin.connect();
  await producer.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: shape.partitions, replicationFactor: 1 }], waitForLeaders: true });
    if (!created) {
      const offsets = await admin.fetchTopicOffsets(topic);
      if (offsets.some((p) => p.high !== '0') || offsets.length !== shape.partitions) {
        throw new UsageError(`topic "${topic}" already exists with data or another partition count; produce into a new topic`);
      }
    }
    let sent = 0;
    for (let partition = 0; partition < shape.partitions; partition++) {
      const count = recordsInPartition(shape, partition);
      for (let from = 0; from < count; from += 2000) {
        const messages = [];
        for (let offset = from; offset < Math.min(count, from + 2000); offset++) {
          messages.push({ partition, key: userOf(shape, partition, offset), value: rawRecord(shape, partition, offset) });
        }
        await producer.send({ topic, acks: -1, messages });
        sent += messages.length;
      }
    }
    write(`produced ${sent} events to ${topic} (${shape.partitions} partitions, seed ${shape.seed})`);
    return 0;
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
}
