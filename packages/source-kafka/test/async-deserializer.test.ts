import { randomUUID } from 'node:crypto';
import { isMicrobatchError, type MicrobatchError } from '@microbatch/core';
import { Redis } from 'ioredis';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createKafkaSource, isDeadLetter, isKafkaRecord, type KafkaSource } from '../src/index.js';
import { brokers, connectClients, createTopic, openContext, produce, readContext, topicName } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

// A "schema registry" in Redis: each record names a schema id, the deserializer looks it up.
let redis: Redis;
const prefix = `mbtest-schemas-${randomUUID().slice(0, 8)}`;
beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { lazyConnect: true });
  await redis.connect();
  await redis.set(`${prefix}:1`, 'Order');
  await redis.set(`${prefix}:2`, 'Refund');
});
afterAll(async () => {
  await redis.del(`${prefix}:1`, `${prefix}:2`);
  redis.disconnect();
});

const N = 40;
// Record i names schema 1 or 2; records 13 and 27 name a schema that is not registered.
const payload = (i: number) => JSON.stringify({ schema: i === 13 || i === 27 ? 9 : (i % 2) + 1, n: i });

async function registryTopic(): Promise<string> {
  const topic = topicName('registry');
  await createTopic(admin, topic, 1);
  await produce(producer, topic, 0, Array.from({ length: N }, (_, i) => payload(i)));
  return topic;
}

/** An async deserializer that awaits a Redis GET per record, counting the calls in flight. */
function registryDeserializer() {
  const stats = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const deserializer = async (value: Buffer | null) => {
    stats.calls++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      const { schema, n } = JSON.parse(value!.toString('utf8')) as { schema: number; n: number };
      const name = await redis.get(`${prefix}:${schema}`);
      if (name === null) throw new Error(`schema ${schema} is not registered`);
      return { type: name, n };
    } finally {
      stats.inFlight--;
    }
  };
  return { deserializer, stats };
}

function readAll<T>(source: KafkaSource<T>, topic: string): Promise<T[]> {
  return source.read({ source: source.name, partition: `${topic}:0`, from: 0, until: N }, readContext());
}

describe('async deserializers', () => {
  it('run with bounded concurrency per range and keep the records in offset order', async () => {
    const topic = await registryTopic();
    const { deserializer, stats } = registryDeserializer();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer, onDeserializationError: 'skip', deserializerConcurrency: 4 });
    try {
      await source.open(openContext);
      const records = await readAll(source, topic);
      const expected = Array.from({ length: N }, (_, i) => i).filter((i) => i !== 13 && i !== 27);
      expect(records.map((r) => r.offset)).toEqual(expected);
      expect(records.map((r) => r.value)).toEqual(expected.map((n) => ({ type: n % 2 === 0 ? 'Order' : 'Refund', n })));
      expect(source.metrics.recordsSkipped).toBe(2);
      expect(stats.calls).toBe(N);
      // Several lookups were in flight at once, never more than the bound.
      expect(stats.maxInFlight).toBe(4);
    } finally {
      await source.close();
    }
  });

  it('fail: the range fails with DESERIALIZATION_FAILED naming the first record that failed', async () => {
    const topic = await registryTopic();
    const { deserializer } = registryDeserializer();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer, deserializerConcurrency: 8 });
    try {
      await source.open(openContext);
      const error = await readAll(source, topic).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'DESERIALIZATION_FAILED')).toBe(true);
      expect((error as MicrobatchError).details).toEqual({ topic, partition: 0, offset: 13 });
      expect(((error as MicrobatchError).cause as Error).message).toBe('schema 9 is not registered');
    } finally {
      await source.close();
    }
  });

  it('deadLetter: failing records become dead letters in their place, and a replay gives the same batch', async () => {
    const topic = await registryTopic();
    const { deserializer } = registryDeserializer();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer, onDeserializationError: 'deadLetter' });
    try {
      await source.open(openContext);
      const out = await readAll(source, topic);
      expect(out).toHaveLength(N);
      expect(out.map((r, i) => [r.offset, r.kind])).toEqual(Array.from({ length: N }, (_, i) => [i, i === 13 || i === 27 ? 'deadLetter' : 'record']));
      const dead = out.filter(isDeadLetter);
      expect(dead.map((d) => d.value?.toString('utf8'))).toEqual([payload(13), payload(27)]);
      expect(dead.map((d) => d.error)).toEqual(['schema 9 is not registered', 'schema 9 is not registered']);
      expect(out.filter(isKafkaRecord).every((r) => typeof r.value === 'object' && r.value !== null && 'type' in r.value)).toBe(true);
      expect(source.metrics.deadLetters).toBe(2);
      expect(await readAll(source, topic)).toEqual(out);
    } finally {
      await source.close();
    }
  });
});
