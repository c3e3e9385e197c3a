// Raw read throughput (records/s) of the Kafka source against a plain kafkajs consumer reading the
// same 8-partition topic in the same run, for 100-byte and 1 KB records.
// Not a test: run it by hand (see README); numbers depend on the machine.
//   node --import tsx bench/throughput.ts [records100B=400000] [records1KB=100000] [rangeSize=10000] [rounds=3]
// The source reads every partition in ranges of `rangeSize` records, all partitions at once (what
// a batch does); the consumer is a fresh group reading from the beginning with eachBatch; a third
// side is that consumer holding each range's records until it is complete (the cost of keeping
// what a batch reads, which the plain consumer never pays). All timings include connecting and
// joining the group. A fourth side is the source with `reader: "consumer"` (the reader that reads
// through a kafkajs consumer in a private group; the default reader fetches from the leaders
// directly). Cases alternate; the median is reported.
import { randomUUID } from 'node:crypto';
import { silentLogger } from '@microbatch/core';
import { Kafka, logLevel } from 'kafkajs';
import { createKafkaSource } from '../src/index.js';

const [n100Arg, n1kArg, rangeArg, roundsArg] = process.argv.slice(2);
const PARTITIONS = 8;
const RANGE = Number(rangeArg ?? 10_000);
const ROUNDS = Number(roundsArg ?? 3);
const CASES = [
  { label: '100 B', size: 100, records: Number(n100Arg ?? 400_000) },
  { label: '1 KB', size: 1024, records: Number(n1kArg ?? 100_000) },
];

const services = (await import(new URL('../../../tools/services/src/index.mjs', import.meta.url).href)) as {
  ensureServices(names: string[]): Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
};
const running = await services.ensureServices(['kafka']);
const brokers = running.env.KAFKA_BROKERS!.split(',').map((b) => b.replace(/^kafka:\/\//, ''));
const kafka = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING });

async function fill(topic: string, size: number, records: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const value = Buffer.alloc(size, 'x');
  const perPartition = records / PARTITIONS;
  // Record batches stay under the broker's 1 MB message.max.bytes.
  const chunk = Math.floor(500_000 / size);
  for (let sent = 0; sent < perPartition; sent += chunk) {
    const n = Math.min(chunk, perPartition - sent);
    await producer.sendBatch({
      acks: 1,
      topicMessages: Array.from({ length: PARTITIONS }, (_, partition) => ({
        topic,
        messages: Array.from({ length: n }, () => ({ partition, value })),
      })),
    });
  }
  await producer.disconnect();
}

type Deserializer = Parameters<typeof createKafkaSource>[0]['deserializer'];

async function viaSource(topic: string, deserializer?: Deserializer, reader?: 'fetch' | 'consumer'): Promise<number> {
  const start = performance.now();
  const source = createKafkaSource({
    brokers,
    topics: [topic],
    readTimeoutMs: 120_000,
    ...(deserializer ? { deserializer } : {}),
    ...(reader === undefined ? {} : { reader }),
  });
  await source.open({ appId: 'bench', logger: silentLogger });
  const latest = await source.latestOffsets();
  let count = 0;
  await Promise.all(
    Object.entries(latest).map(async ([partition, until]) => {
      for (let from = 0; from < until; from += RANGE) {
        const records = await source.read(
          { source: source.name, partition, from, until: Math.min(from + RANGE, until) },
          { appId: 'bench', batchTime: 0, attempt: 1, signal: new AbortController().signal, logger: silentLogger },
        );
        count += records.length;
      }
    }),
  );
  const elapsed = performance.now() - start;
  await source.close();
  return count / (elapsed / 1000);
}

async function viaConsumer(topic: string, total: number): Promise<number> {
  const start = performance.now();
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let count = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        count += batch.messages.length;
        if (count >= total) resolve();
      },
    });
  });
  await done;
  const elapsed = performance.now() - start;
  await consumer.disconnect();
  return count / (elapsed / 1000);
}

/**
 * The floor of holding ranges: the same consumer, keeping one object per record (offset, value
 * slice) in a per-partition array until `RANGE` records are held, then dropping the array, as a
 * batch holds its range until it is read. The plain consumer drops every message at once.
 */
async function viaHoldingConsumer(topic: string, total: number): Promise<number> {
  const start = performance.now();
  const consumer = kafka.consumer({ groupId: `bench-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let count = 0;
  const held = new Map<number, { offset: number; value: Buffer | null }[]>();
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        let range = held.get(batch.partition) ?? [];
        for (const m of batch.messages) {
          range.push({ offset: Number(m.offset), value: m.value });
          if (range.length >= RANGE) range = [];
        }
        held.set(batch.partition, range);
        count += batch.messages.length;
        if (count >= total) resolve();
      },
    });
  });
  await done;
  const elapsed = performance.now() - start;
  await consumer.disconnect();
  return count / (elapsed / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  for (const c of CASES) {
    const topic = `bench-${c.size}-${randomUUID().slice(0, 8)}`;
    await fill(topic, c.size, c.records);
    const source: number[] = [];
    const consumer: number[] = [];
    const holding: number[] = [];
    const viaConsumerReader: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      source.push(await viaSource(topic));
      viaConsumerReader.push(await viaSource(topic, undefined, 'consumer'));
      consumer.push(await viaConsumer(topic, c.records));
      holding.push(await viaHoldingConsumer(topic, c.records));
    }
    // The cost of an async deserializer: the same UTF-8 decoding, sync and behind a promise.
    const syncString: number[] = [];
    const asyncString: number[] = [];
    if (c.size === 100) {
      for (let round = 0; round < ROUNDS; round++) {
        syncString.push(await viaSource(topic, (value) => value?.toString('utf8') ?? null));
        asyncString.push(await viaSource(topic, async (value) => value?.toString('utf8') ?? null));
      }
    }
    const s = median(source);
    const k = median(consumer);
    const h = median(holding);
    const p = median(viaConsumerReader);
    console.log(
      `${c.label} x ${c.records} records, ranges of ${RANGE}, ${PARTITIONS} partitions: source (reader "fetch") ${Math.round(s)} rec/s, kafkajs consumer ${Math.round(k)} rec/s, ratio ${(s / k).toFixed(2)}; ` +
        `consumer holding ranges ${Math.round(h)} rec/s (${(h / k).toFixed(2)}x the consumer; source ${(s / h).toFixed(2)}x it); ` +
        `source with reader "consumer" ${Math.round(p)} rec/s (${(p / k).toFixed(2)}x the consumer)` +
        `  (rounds: source ${source.map(Math.round).join('/')}, consumer ${consumer.map(Math.round).join('/')}, holding ${holding.map(Math.round).join('/')}, reader "consumer" ${viaConsumerReader.map(Math.round).join('/')})`,
    );
    if (syncString.length > 0) {
      const sync = median(syncString);
      const async = median(asyncString);
      console.log(
        `${c.label}: source with a sync string deserializer ${Math.round(sync)} rec/s, with the same one async ${Math.round(async)} rec/s, ratio ${(async / sync).toFixed(2)}` +
          `  (rounds: sync ${syncString.map(Math.round).join('/')}, async ${asyncString.map(Math.round).join('/')})`,
      );
    }
  }
} finally {
  await running.stop();
}
