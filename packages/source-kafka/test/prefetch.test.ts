import { isMicrobatchError, type MicrobatchError } from '@microbatch/core';
import type { Admin, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaSource, type KafkaSource } from '../src/index.js';
import { brokers, connectClients, createTopic, openContext, produce, readContext, topicName } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

const values = (from: number, n: number) => Array.from({ length: n }, (_, i) => `v${from + i}`);

function read<T>(source: KafkaSource<T>, topic: string, from: number, until: number): Promise<T[]> {
  return source.read({ source: source.name, partition: `${topic}:0`, from, until }, readContext());
}

describe('consecutive ranges (prefetch)', () => {
  it('a range that starts where the last ended continues from the prefetched position, with the same records as a fresh reader', async () => {
    const topic = topicName('prefetch');
    await createTopic(admin, topic, 1);
    await produce(producer, topic, 0, values(0, 50));
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', reader: 'consumer' });
    const fresh = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', reader: 'consumer' });
    try {
      await Promise.all([source.open(openContext), fresh.open(openContext)]);
      const ranges: string[][] = [];
      for (let from = 0; from < 50; from += 10) ranges.push((await read(source, topic, from, from + 10)).map((r) => `${r.offset}:${r.value}`));
      // The first range seeks; the four after it start where the consumer already is.
      expect(source.metrics.rangesContinued).toBe(4);
      const whole = (await read(fresh, topic, 0, 50)).map((r) => `${r.offset}:${r.value}`);
      expect(ranges.flat()).toEqual(whole);
      expect(ranges.map((r) => r.length)).toEqual([10, 10, 10, 10, 10]);
      // A replayed range does not continue anything: it seeks (and checks the log start) again.
      expect((await read(source, topic, 10, 20)).map((r) => `${r.offset}:${r.value}`)).toEqual(whole.slice(10, 20));
      expect(source.metrics.rangesContinued).toBe(4);
      // After it, [20, 30) continues again.
      expect((await read(source, topic, 20, 30)).map((r) => r.offset)).toEqual(whole.slice(20, 30).map((r) => Number(r.split(':')[0])));
      expect(source.metrics.rangesContinued).toBe(5);
    } finally {
      await Promise.all([source.close(), fresh.close()]);
    }
  });

  for (const reader of ['consumer', 'fetch'] as const) {
  it(`a continued range whose offsets past the ones already fetched were deleted fails with OFFSET_OUT_OF_RANGE (reader "${reader}")`, async () => {
    const topic = topicName('prefetch-deleted');
    await createTopic(admin, topic, 1);
    // Two record batches in the log; maxBytesPerPartition 1 makes every fetch return one of them
    // (the broker always returns at least one batch): [0, 5) completes on the first, the second
    // arrives with no range being read and pauses the partition at 20, where nothing more is fetched.
    await produce(producer, topic, 0, values(0, 10));
    await produce(producer, topic, 0, values(10, 10));
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', maxBytesPerPartition: 1, reader });
    try {
      await source.open(openContext);
      expect((await read(source, topic, 0, 5)).map((r) => r.value)).toEqual(values(0, 5));
      await produce(producer, topic, 0, values(20, 10));
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '25' }] });
      // 5 to 19 may already be fetched (they were in the log then); 20 to 24 are gone.
      const error = await read(source, topic, 5, 30).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'OFFSET_OUT_OF_RANGE')).toBe(true);
      expect((error as MicrobatchError).details).toMatchObject({ topic, partition: 0, from: 5, until: 30, logStartOffset: 25 });
      // The consumer continued from where it was (no seek, no log start check): the broker's answer caught it.
      if (reader === 'consumer') expect(source.metrics.rangesContinued).toBe(1);
      // What is left of the log still reads, from a fresh seek.
      expect((await read(source, topic, 25, 30)).map((r) => r.value)).toEqual(values(25, 5));
    } finally {
      await source.close();
    }
  });
  }
});
