// Scenario 9, child side: Kafka to Kafka. The same records read from an input topic and written to
// an output topic by the exactly-once Kafka sink (per batch or per partition), by the same pipeline
// with a plain idempotent producer (at-least-once), and by a plain kafkajs producer alone.
import { StreamingContext, createVirtualClock, silentLogger } from '@microbatch/core';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { rawRecord, recordsInPartition, userOf } from '@microbatch/sample/src/generate.ts';
import { createKafkaSink } from '@microbatch/sink-kafka';
import { createKafkaSource, type KafkaRecord } from '@microbatch/source-kafka';
import { Kafka, logLevel, type Message } from 'kafkajs';
import { rate } from '../events.ts';

export interface K2kArgs {
  readonly mode: 'exactly-once-batch' | 'exactly-once-partition' | 'at-least-once';
  readonly brokers: string[];
  readonly input: string;
  readonly output: string;
  readonly checkpointDir: string;
  readonly perBatch: number;
}

// The sink cuts produce requests at 512 KiB (maxRequestBytes); the at-least-once writer and the
// plain producer send requests of about the same size (the sample's records are ~150 bytes).
const MESSAGES_PER_REQUEST = 3000;

const chunks = <T>(list: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size));

async function k2kPipeline(args: K2kArgs): Promise<{ records: number; batches: number; ms: number; recordsPerSec: number }> {
  const store = createFsCheckpointStore({ dir: args.checkpointDir, logger: silentLogger });
  const ssc = new StreamingContext({
    appId: 'bench-k2k',
    batchIntervalMs: 1000,
    checkpoint: store,
    clock: createVirtualClock(Date.now() - (Date.now() % 1000)),
    maxRecordsPerPartition: args.perBatch,
    stopWhenIdle: true,
    stopOnSignals: false,
    logger: silentLogger,
  });
  const records = ssc.source(createKafkaSource({ name: 'in', brokers: args.brokers, topics: [args.input], startingOffsets: 'earliest', deserializer: 'bytes' })) as unknown as import('@microbatch/core').DStream<KafkaRecord<Buffer | null>>;
  const kafka = new Kafka({ clientId: 'bench-k2k', brokers: args.brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  if (args.mode === 'at-least-once') {
    await producer.connect();
    records.foreachBatch(
      async (batch) =>
        batch.foreachPartition(async (part) => {
          for (const messages of chunks(part.map((r): Message => ({ key: r.key, value: r.value })), MESSAGES_PER_REQUEST)) {
            await producer.send({ topic: args.output, acks: -1, messages });
          }
        }),
      { name: 'out' },
    );
  } else {
    records.to(
      createKafkaSink<KafkaRecord<Buffer | null>>({
        name: 'out',
        brokers: args.brokers,
        topic: args.output,
        progressTopic: `${args.output}.progress`,
        granularity: args.mode === 'exactly-once-batch' ? 'batch' : 'partition',
        key: (r) => r.key,
        value: (r) => r.value,
      }),
    );
  }
  let count = 0;
  let batches = 0;
  ssc.addListener({
    onBatchCompleted: (info) => {
      batches++;
      count += info.numRecords;
    },
  });
  const start = performance.now();
  try {
    await ssc.start();
    await ssc.awaitTermination();
  } finally {
    await producer.disconnect().catch(() => undefined);
    await store.close();
  }
  const ms = performance.now() - start;
  return { records: count, batches, ms, recordsPerSec: rate(count, ms) };
}

export interface PlainProducerArgs {
  readonly brokers: string[];
  readonly output: string;
  readonly events: number;
  readonly partitions: number;
}

/** The input's records (the sample's generator, as `produce` wrote them), written by one plain kafkajs producer, no reading. */
async function plainProducer(args: PlainProducerArgs): Promise<{ records: number; ms: number; recordsPerSec: number }> {
  const shape = { events: args.events, partitions: args.partitions, seed: 1 };
  const messages: Message[] = [];
  for (let p = 0; p < shape.partitions; p++) {
    for (let o = 0; o < recordsInPartition(shape, p); o++) messages.push({ key: userOf(shape, p, o), value: rawRecord(shape, p, o), partition: p });
  }
  const producer = new Kafka({ clientId: 'bench-k2k-plain', brokers: args.brokers, logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const start = performance.now();
  try {
    for (const chunk of chunks(messages, MESSAGES_PER_REQUEST)) await producer.send({ topic: args.output, acks: -1, messages: chunk });
  } finally {
    await producer.disconnect();
  }
  const ms = performance.now() - start;
  return { records: messages.length, ms, recordsPerSec: rate(messages.length, ms) };
}

export const kafkaToKafkaTasks = { 'k2k-pipeline': k2kPipeline, 'k2k-plain-producer': plainProducer };
