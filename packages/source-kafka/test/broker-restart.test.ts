import { isMicrobatchError } from '@microbatch/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSource } from '../src/index.js';
import { createTopic, openContext, privateBroker, produce, readContext, testKafka, topicName, type PrivateKafka } from './helpers.js';

// A private broker on a free port: this test kills it, which no test may do to the shared one.
const privateKafka = privateBroker();
let broker: PrivateKafka;
beforeAll(() => void (broker = privateKafka()));

describe('broker outage', () => {
  it('a read in flight while the broker is down completes with the exact range once it is back', async () => {
    const kafka = testKafka([broker.url]);
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    const topic = topicName('outage');
    const values = Array.from({ length: 40 }, (_, i) => `v${i}`);
    try {
      await createTopic(admin, topic, 2);
      await produce(producer, topic, 0, values);
      await produce(producer, topic, 1, values);
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
    const source = createKafkaSource({
      brokers: [broker.url],
      topics: [topic],
      deserializer: 'string',
      readTimeoutMs: 90_000,
      retryBackoff: { initialMs: 100, maxMs: 1000 },
    });
    try {
      await source.open(openContext);
      const read = (partition: number, from: number, until: number) =>
        source.read({ source: source.name, partition: `${topic}:${partition}`, from, until }, readContext());
      expect((await read(0, 0, 20)).map((r) => r.value)).toEqual(values.slice(0, 20));

      await broker.kill();
      const inFlight = Promise.all([read(0, 20, 40), read(1, 5, 35)]);
      await sleep(3000);
      await broker.start();
      const [rest0, part1] = await inFlight;
      expect(rest0.map((r) => r.value)).toEqual(values.slice(20, 40));
      expect(part1.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i + 5));
      // After the outage the same ranges still replay identically.
      expect(await read(0, 20, 40)).toEqual(rest0);
    } finally {
      await source.close();
    }
  }, 150_000);

  it('a range that cannot be read within readTimeoutMs fails with SOURCE_FAILED, never a shorter result', async () => {
    const kafka = testKafka([broker.url]);
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    const topic = topicName('down');
    try {
      await createTopic(admin, topic, 1);
      await produce(producer, topic, 0, ['a', 'b', 'c']);
    } finally {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
    }
    const source = createKafkaSource({ brokers: [broker.url], topics: [topic], deserializer: 'string', readTimeoutMs: 4000, retryBackoff: { maxMs: 500 } });
    try {
      await source.open(openContext);
      await broker.kill();
      const error = await source.read({ source: source.name, partition: `${topic}:0`, from: 0, until: 3 }, readContext()).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'SOURCE_FAILED')).toBe(true);
      await broker.start();
      // The next attempt of the batch reads the whole range.
      const retry = await source.read({ source: source.name, partition: `${topic}:0`, from: 0, until: 3 }, readContext());
      expect(retry.map((r) => r.value)).toEqual(['a', 'b', 'c']);
    } finally {
      await source.close();
    }
  }, 150_000);
});
