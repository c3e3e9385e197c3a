import { Batch, isMicrobatchError, silentLogger, type OutputContext } from '@microbatch/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaSink, type KafkaSink } from '../src/index.js';
import { brokers, createTopic, deleteTopics, readCommitted, topicName } from './support/kafka.js';

type Row = { id: string; size?: number };
const topics: string[] = [];
const sinks: KafkaSink<Row>[] = [];
afterAll(async () => {
  for (const sink of sinks) await sink.close();
  await deleteTopics(topics);
});

const context = (appId: string, batchTime: number): OutputContext => ({
  appId,
  epoch: 1,
  batchTime,
  attempt: 1,
  outputName: 'out',
  offsetRanges: [],
  signal: new AbortController().signal,
  logger: silentLogger,
});

async function setup(options: Partial<Parameters<typeof createKafkaSink<Row>>[0]> = {}, config: Record<string, string> = {}) {
  const topic = topicName('bad');
  topics.push(topic, `${topic}.progress`);
  await createTopic(topic, 2, config);
  const sink = createKafkaSink<Row>({ name: 'out', brokers: brokers(), topic, progressTopic: `${topic}.progress`, key: (r) => r.id, ...options });
  sinks.push(sink);
  const appId = `app-${topic}`;
  await sink.open({ appId, epoch: 1, logger: silentLogger });
  const write = (batchTime: number, partitions: Row[][]) => sink.write(Batch.fromPartitions(batchTime, partitions).bind(context(appId, batchTime)), context(appId, batchTime));
  return { topic, sink, appId, write };
}

const rows = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));

describe('createKafkaSink: bad input gets a typed error, and nothing is half-written', () => {
  it('options are checked when the sink is made', () => {
    const invalid = (options: object) => {
      try {
        createKafkaSink(options as never);
      } catch (error) {
        return isMicrobatchError(error, 'INVALID_OPTION') ? (error.details.option as string) : `not INVALID_OPTION: ${String(error)}`;
      }
      return 'accepted';
    };
    expect(invalid({ brokers: 'h:1', topic: 't' })).toBe('name');
    expect(invalid({ name: 'o', topic: 't' })).toBe('brokers');
    expect(invalid({ name: 'o', brokers: 'no-port', topic: 't' })).toBe('brokers');
    expect(invalid({ name: 'o', brokers: 'h:1', topic: 'bad topic!' })).toBe('topic');
    expect(invalid({ name: 'o', brokers: 'h:1', topic: 't', granularity: 'task' })).toBe('granularity');
    expect(invalid({ name: 'o', brokers: 'h:1', topic: 't', transactionTimeoutMs: 0 })).toBe('transactionTimeoutMs');
    expect(invalid({ name: 'o', brokers: 'h:1', topic: 't', value: 'json' })).toBe('value');
    expect(invalid({ name: 'o', brokers: ['kafka://h:1'], topic: 't' })).toBe('accepted');
  });

  it('a record larger than the topic max.message.bytes: INVALID_RECORD naming topic and size, nothing of the batch written', async () => {
    const { topic, write } = await setup({ value: (r) => 'v'.repeat(r.size ?? 10) }, { 'max.message.bytes': '20000' });
    await write(1000, [rows('a', 5), rows('b', 5)]);
    const error = await write(2000, [rows('c', 50), [...rows('d', 3), { id: 'big', size: 50_000 }]]).catch((e: unknown) => e);
    expect(isMicrobatchError(error, 'INVALID_RECORD')).toBe(true);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ topic, maxMessageBytes: 20000, reason: 'record-too-large', batchTime: 2000 });
    expect((await readCommitted(topic)).map((r) => r.key).sort()).toEqual([...rows('a', 5), ...rows('b', 5)].map((r) => r.id).sort());
  });

  it('a serializer that throws: INVALID_RECORD naming the field and the record, nothing written', async () => {
    const { topic, write } = await setup({
      value: (r) => {
        if (r.id === 'b2') throw new Error('no');
        return r.id;
      },
    });
    const error = await write(1000, [rows('a', 10), rows('b', 10)]).catch((e: unknown) => e);
    expect(isMicrobatchError(error, 'INVALID_RECORD')).toBe(true);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ field: 'value', index: 2, partitionId: 1 });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(await readCommitted(topic)).toEqual([]);
  });

  it('a topic (from the topic function) that does not exist: SINK_FAILED reason unknown-topic, nothing written, not created', async () => {
    const missing = topicName('missing');
    const { topic, write } = await setup({ topic: (r: Row) => (r.id.startsWith('x') ? missing : 'placeholder') });
    // 'placeholder' is not a topic either: the records of the existing topic go through the function too.
    const error = await write(1000, [rows('x', 3)]).catch((e: unknown) => e);
    expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ topic: missing, reason: 'unknown-topic' });
    const { admin } = await import('./support/kafka.js');
    expect(await (await admin()).listTopics()).not.toContain(missing);
    expect(await readCommitted(topic)).toEqual([]);
  });

  it('an unreachable broker: open fails with SINK_FAILED reason broker-unreachable', async () => {
    const sink = createKafkaSink<Row>({ name: 'out', brokers: '127.0.0.1:1', topic: 'anything', retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 100 }, kafkaConfig: { connectionTimeout: 300 } });
    sinks.push(sink);
    const error = await sink.open({ appId: 'nowhere', epoch: 1, logger: silentLogger }).catch((e: unknown) => e);
    expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
    expect((error as { details: Record<string, unknown> }).details.reason).toBe('broker-unreachable');
  });
});
