import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka, Producer, Transaction } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaSource, type KafkaRecord } from '../src/index.js';
import { brokers, connectClients, createTopic, openContext, produce, readContext, topicName, until } from './helpers.js';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ kafka, admin, producer } = clients));

async function transaction(topic: string, values: string[], outcome: 'commit' | 'abort'): Promise<void> {
  const tx = kafka.producer({ transactionalId: `tx-${topic}`, idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  try {
    const t = await tx.transaction();
    await t.send({ topic, messages: values.map((value) => ({ partition: 0, value })) });
    await (outcome === 'commit' ? t.commit() : t.abort());
  } finally {
    await tx.disconnect();
  }
}

/** A string-valued source of `topic` at `isolationLevel`. */
function sourceOf(topic: string, isolationLevel: 'read_committed' | 'read_uncommitted' = 'read_committed') {
  return createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', isolationLevel, readTimeoutMs: 15_000 });
}

type Rec = KafkaRecord<string | null>;
const valuesOf = (records: Rec[]) => records.map((r) => r.value);

/** Reads [from, until) one offset at a time: every single-offset range must complete, even a marker's. */
async function readOneByOne(source: ReturnType<typeof createKafkaSource<{ brokers: string[]; topics: string[]; deserializer: 'string' }>>, partition: string, from: number, until: number) {
  const out: Rec[] = [];
  for (let offset = from; offset < until; offset++) {
    out.push(...(await source.read({ source: source.name, partition, from: offset, until: offset + 1 }, readContext())));
  }
  return out;
}

describe('transactions and compaction', () => {
  it('read_committed ranges leave out aborted records and markers, and complete when the position reaches until', async () => {
    const topic = topicName('tx');
    await createTopic(admin, topic, 1);
    await transaction(topic, ['a1', 'a2'], 'commit');
    await transaction(topic, ['x1', 'x2', 'x3'], 'abort');
    await transaction(topic, ['b1'], 'commit');
    // The partition ends with an aborted transaction: the last records of the range are never returned.
    await transaction(topic, ['y1'], 'abort');
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', readTimeoutMs: 15_000 });
    try {
      await source.open(openContext);
      const p = `${topic}:0`;
      const until = (await source.latestOffsets())[p]!;
      // 2 + marker, 3 + marker, 1 + marker, 1 + marker
      expect(until).toBe(11);
      const all = await source.read({ source: source.name, partition: p, from: 0, until }, readContext());
      expect(valuesOf(all)).toEqual(['a1', 'a2', 'b1']);
      expect(all.map((r) => r.offset)).toEqual([0, 1, 7]);
      // Ranges made only of aborted records or markers are complete and empty.
      expect(await source.read({ source: source.name, partition: p, from: 2, until: 7 }, readContext())).toEqual([]);
      expect(await source.read({ source: source.name, partition: p, from: 8, until }, readContext())).toEqual([]);
      expect(valuesOf(await readOneByOne(source, p, 0, until))).toEqual(['a1', 'a2', 'b1']);
    } finally {
      await source.close();
    }
    const uncommitted = sourceOf(topic, 'read_uncommitted');
    try {
      await uncommitted.open(openContext);
      const all = await uncommitted.read({ source: uncommitted.name, partition: `${topic}:0`, from: 0, until: 11 }, readContext());
      expect(valuesOf(all)).toEqual(['a1', 'a2', 'x1', 'x2', 'x3', 'b1', 'y1']);
    } finally {
      await uncommitted.close();
    }
  });

  it('read_committed leaves out every aborted record when transactions of several producers interleave (kafkajs 2.2.4 alone returns some)', async () => {
    const topic = topicName('txmix');
    await createTopic(admin, topic, 1);
    const p = `${topic}:0`;
    const uncommitted = sourceOf(topic, 'read_uncommitted');
    await uncommitted.open(openContext);
    const producers = ['x', 'y', 'z'].map((name) => kafka.producer({ transactionalId: `tx-${topic}-${name}`, idempotent: true, maxInFlightRequests: 1 }));
    await Promise.all(producers.map((tx) => tx.connect()));
    const [x, y, z] = producers as [Producer, Producer, Producer];
    // The log order below is fixed by waiting for each marker: the coordinator writes markers after
    // commit()/abort() return, and the broker lists aborted transactions in marker order, which here
    // is the reverse of their first offsets (kafkajs 2.2.4 assumed the two agree).
    const markerWritten = (highWatermark: number) => until(`high watermark ${highWatermark}`, async () => (await uncommitted.latestOffsets())[p] === highWatermark);
    const send = (t: Transaction, value: string) => t.send({ topic, messages: [{ partition: 0, value }] });
    try {
      const tx = await x.transaction();
      await send(tx, 'x1-aborted'); // 0
      const ty = await y.transaction();
      await send(ty, 'y1-aborted'); // 1
      const tz = await z.transaction();
      await send(tz, 'z1-aborted'); // 2
      await tz.abort(); // 3
      await markerWritten(4);
      await ty.abort(); // 4
      await markerWritten(5);
      await send(tx, 'x2-aborted'); // 5
      await tx.abort(); // 6
      await markerWritten(7);
      const ty2 = await y.transaction();
      await send(ty2, 'y2'); // 7
      const tx2 = await x.transaction();
      await send(tx2, 'x3'); // 8
      await ty2.commit(); // 9
      await markerWritten(10);
      await tx2.commit(); // 10
      await markerWritten(11);
      const tz2 = await z.transaction();
      await send(tz2, 'z2'); // 11
      await tz2.commit(); // 12
      await markerWritten(13);
    } finally {
      await Promise.all(producers.map((tx) => tx.disconnect()));
      await uncommitted.close();
    }
    const committed = new Map([
      [7, 'y2'],
      [8, 'x3'],
      [11, 'z2'],
    ]);
    const source = sourceOf(topic);
    try {
      await source.open(openContext);
      const end = (await source.latestOffsets())[p]!;
      expect(end).toBe(13);
      // Every range, from each start offset to the end: a range may begin inside an aborted transaction.
      for (let from = 0; from < end; from++) {
        const records = await source.read({ source: source.name, partition: p, from, until: end }, readContext());
        const expected = [...committed].filter(([offset]) => offset >= from);
        expect(records.map((r) => [r.offset, r.value]), `range [${from}, ${end})`).toEqual(expected);
      }
      expect(valuesOf(await readOneByOne(source, p, 0, end))).toEqual([...committed.values()]);
    } finally {
      await source.close();
    }
  });

  it('with a transaction open, read_uncommitted plans and reads up to the high watermark, read_committed up to the last stable offset', async () => {
    const topic = topicName('opentx');
    await createTopic(admin, topic, 1);
    await produce(producer, topic, 0, ['c1', 'c2']);
    const tx = kafka.producer({ transactionalId: `tx-${topic}`, idempotent: true, maxInFlightRequests: 1 });
    await tx.connect();
    const open = await tx.transaction();
    const committed = sourceOf(topic);
    const uncommitted = sourceOf(topic, 'read_uncommitted');
    try {
      await open.send({ topic, messages: ['o1', 'o2', 'o3'].map((value) => ({ partition: 0, value })) });
      await Promise.all([committed.open(openContext), uncommitted.open(openContext)]);
      const p = `${topic}:0`;
      // The open transaction holds offsets 2..4: the last stable offset is 2, the high watermark 5.
      expect((await committed.latestOffsets())[p]).toBe(2);
      expect((await uncommitted.latestOffsets())[p]).toBe(5);
      const all = await uncommitted.read({ source: uncommitted.name, partition: p, from: 0, until: 5 }, readContext());
      expect(valuesOf(all)).toEqual(['c1', 'c2', 'o1', 'o2', 'o3']);
      await open.abort();
      // The coordinator writes the abort marker (offset 5) after abort() returns; once it is in,
      // the transaction is over and both plan to the same offset.
      await until('the abort marker', async () => (await committed.latestOffsets())[p] === 6);
      expect((await uncommitted.latestOffsets())[p]).toBe(6);
    } finally {
      if (open.isActive()) await open.abort();
      await Promise.all([tx.disconnect(), committed.close(), uncommitted.close()]);
    }
  });

  it('ranges over compacted offsets return the surviving records and complete across the gaps', async () => {
    const topic = topicName('compact');
    await createTopic(admin, topic, 1, {
      'cleanup.policy': 'compact',
      'segment.ms': '100',
      'min.cleanable.dirty.ratio': '0.001',
      'delete.retention.ms': '100',
    });
    const send = (pairs: [string, string][]) => producer.send({ topic, acks: -1, messages: pairs.map(([key, value]) => ({ partition: 0, key, value })) });
    await send([['k1', 'v1'], ['k2', 'v1'], ['k3', 'v1'], ['k1', 'v2'], ['k2', 'v2'], ['k1', 'v3']]);
    // Only closed segments are compacted: later appends roll the segment (segment.ms=100).
    await sleep(300);
    await send([['k4', 'v1']]);
    await sleep(300);
    await send([['k5', 'v1']]);
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', readTimeoutMs: 15_000 });
    try {
      await source.open(openContext);
      const p = `${topic}:0`;
      const until = (await source.latestOffsets())[p]!;
      expect(until).toBe(8);
      let all: Rec[] = [];
      for (let i = 0; i < 120; i++) {
        all = await source.read({ source: source.name, partition: p, from: 0, until }, readContext());
        if (all.length < until) break;
        await sleep(250);
      }
      // The cleaner kept the newest value of each key: k3@2, k2@4, k1@5, k4@6, k5@7.
      expect(all.map((r) => `${r.key}=${r.value}@${r.offset}`)).toEqual(['k3=v1@2', 'k2=v2@4', 'k1=v3@5', 'k4=v1@6', 'k5=v1@7']);
      expect(await source.read({ source: source.name, partition: p, from: 0, until: 2 }, readContext())).toEqual([]);
      expect(await readOneByOne(source, p, 0, until)).toEqual(all);
    } finally {
      await source.close();
    }
  });
});
