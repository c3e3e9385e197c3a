import { isMicrobatchError, silentLogger, type Logger, type MicrobatchError } from '@microbatch/core';
import type { Admin, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaSource, isDeadLetter, isKafkaRecord, json, type KafkaSource } from '../src/index.js';
import { brokers, connectClients, createTopic, openContext, produce, readContext, topicName } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

/** A logger that keeps its warnings, to check what a policy logged. */
function capturingLogger() {
  const warnings: Record<string, unknown>[] = [];
  const logger: Logger = { ...silentLogger, warn: (obj, msg) => warnings.push({ ...(typeof obj === 'string' ? { msg: obj } : obj), msg: msg ?? obj }), child: () => logger };
  return { logger, warnings };
}

async function malformedTopic(): Promise<string> {
  const topic = topicName('bad');
  await createTopic(admin, topic, 1);
  await produce(producer, topic, 0, ['{"n":1}', 'not json', Buffer.from([0xff, 0xfe]), '{"n":4}', null]);
  return topic;
}

function readAll<T>(source: KafkaSource<T>, topic: string, logger = silentLogger): Promise<T[]> {
  return source.read({ source: source.name, partition: `${topic}:0`, from: 0, until: 5 }, { ...readContext(), logger });
}

describe('deserialization policies', () => {
  it('fail (default): the batch fails with DESERIALIZATION_FAILED naming the record', async () => {
    const topic = await malformedTopic();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'json' });
    try {
      await source.open(openContext);
      const error = await readAll(source, topic).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'DESERIALIZATION_FAILED')).toBe(true);
      expect((error as MicrobatchError).details).toEqual({ topic, partition: 0, offset: 1 });
      expect((error as MicrobatchError).cause).toBeInstanceOf(SyntaxError);
    } finally {
      await source.close();
    }
  });

  it('skip: failing records are left out, counted, and told in one line per read with their offsets', async () => {
    const topic = await malformedTopic();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'json', onDeserializationError: 'skip' });
    const { logger, warnings } = capturingLogger();
    const reported: unknown[] = [];
    try {
      await source.open({ ...openContext, reportRejected: (event) => reported.push(event) });
      const records = await readAll(source, topic, logger);
      expect(records.map((r) => [r.offset, r.value])).toEqual([[0, { n: 1 }], [3, { n: 4 }], [4, null]]);
      expect(source.metrics.recordsSkipped).toBe(2);
      // The context hears of them too (metrics: records rejected per reason).
      // The context hears of them once per read with their count, and the log says it once: a
      // million events with 1% malformed is routine, not 10 000 lines.
      expect(reported).toEqual([{ source: 'kafka', reason: 'deserialization', action: 'skipped', count: 2, partition: `${topic}:0` }]);
      expect(warnings.map((w) => [w.topic, w.partition, w.count, w.first, w.last])).toEqual([[topic, 0, 2, '1', '2']]);
    } finally {
      await source.close();
    }
  });

  it('deadLetter: failing records stay in the batch as dead letters, in offset order', async () => {
    const topic = await malformedTopic();
    const source = createKafkaSource({
      brokers: brokers(),
      topics: [topic],
      deserializer: json<{ n: number }>(),
      onDeserializationError: 'deadLetter',
    });
    const reported: Array<{ action: string; count: number }> = [];
    const { logger, warnings } = capturingLogger();
    try {
      await source.open({ ...openContext, reportRejected: (event) => reported.push(event) });
      const out = await readAll(source, topic, logger);
      expect(out.map((r) => `${r.kind}@${r.offset}`)).toEqual(['record@0', 'deadLetter@1', 'deadLetter@2', 'record@3', 'record@4']);
      expect(reported.map((r) => [r.action, r.count])).toEqual([['dead-lettered', 2]]);
      expect(warnings).toHaveLength(1);
      const dead = out.filter(isDeadLetter);
      expect(dead.map((d) => d.value)).toEqual([Buffer.from('not json'), Buffer.from([0xff, 0xfe])]);
      expect(dead[0]!.error).toMatch(/JSON/);
      expect(out.filter(isKafkaRecord).map((r) => r.value)).toEqual([{ n: 1 }, { n: 4 }, null]);
      expect(source.metrics.deadLetters).toBe(2);
      // A replay hands on the very same dead letters.
      expect(await readAll(source, topic)).toEqual(out);
    } finally {
      await source.close();
    }
  });

  it('string rejects invalid UTF-8 and a user function failure goes through the same policy', async () => {
    const topic = await malformedTopic();
    const strings = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', onDeserializationError: 'skip' });
    const fn = createKafkaSource({
      brokers: brokers(),
      topics: [topic],
      deserializer: (value) => {
        if (value === null) throw new Error('tombstones are not allowed');
        return value.length;
      },
    });
    try {
      await Promise.all([strings.open(openContext), fn.open(openContext)]);
      expect((await readAll(strings, topic)).map((r) => r.value)).toEqual(['{"n":1}', 'not json', '{"n":4}', null]);
      const error = await readAll(fn, topic).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'DESERIALIZATION_FAILED')).toBe(true);
      expect((error as MicrobatchError).details).toMatchObject({ offset: 4 });
    } finally {
      await Promise.all([strings.close(), fn.close()]);
    }
  });
});

describe('offset out of range', () => {
  async function truncatedTopic(): Promise<string> {
    const topic = topicName('retention');
    await createTopic(admin, topic, 1);
    await produce(producer, topic, 0, ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
    await admin.fetchTopicOffsets(topic);
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '5' }] });
    return topic;
  }

  it('fails by default with a typed error naming topic, partition and offsets', async () => {
    const topic = await truncatedTopic();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string' });
    try {
      await source.open(openContext);
      const error = await source.read({ source: source.name, partition: `${topic}:0`, from: 2, until: 7 }, readContext()).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'OFFSET_OUT_OF_RANGE')).toBe(true);
      expect((error as MicrobatchError).details).toMatchObject({ topic, partition: 0, from: 2, until: 7, logStartOffset: 5 });
      expect((error as Error).message).toContain(`${topic}:0`);
    } finally {
      await source.close();
    }
  });

  it('skip: reads what is left of the range, counts and logs the deleted offsets', async () => {
    const topic = await truncatedTopic();
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', onOffsetOutOfRange: 'skip' });
    const { logger, warnings } = capturingLogger();
    try {
      await source.open(openContext);
      const read = (from: number, until: number) =>
        source.read({ source: source.name, partition: `${topic}:0`, from, until }, { ...readContext(), logger });
      expect((await read(2, 7)).map((r) => r.value)).toEqual(['v5', 'v6']);
      expect(await read(0, 4)).toEqual([]);
      expect(source.metrics.offsetsSkipped).toBe(3 + 4);
      expect(warnings.map((w) => [w.topic, w.partition, w.from, w.skippedOffsets])).toEqual([[topic, 0, 2, 3], [topic, 0, 0, 4]]);
    } finally {
      await source.close();
    }
  });
});

describe('monitoring commit', () => {
  it('commits the end of each range to commitGroupId, where lag tools read it', async () => {
    const topic = topicName('commit');
    await createTopic(admin, topic, 2);
    const groupId = `${topic}-monitor`;
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], commitGroupId: groupId, name: 'events' });
    try {
      await source.open(openContext);
      await produce(producer, topic, 0, ['a', 'b', 'c']);
      await source.commit([
        { source: 'events', partition: `${topic}:0`, from: 0, until: 3 },
        { source: 'events', partition: `${topic}:1`, from: 0, until: 0 },
        { source: 'other', partition: `${topic}:0`, from: 0, until: 99 },
      ]);
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(committed[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, '3'], [1, '0']]);
      expect(source.metrics.commitFailures).toBe(0);
    } finally {
      await source.close();
    }
  });
});
