import { isMicrobatchError, type MicrobatchError } from '@microbatch/core';
import { AssignerProtocol, type Admin, type Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaSource } from '../src/index.js';
import { brokers, connectClients, createTopic, openContext, produce, readContext, testKafka, topicName, waitForPartitions } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

describe('subscriptions and discovery', () => {
  it('a partition added mid-run is discovered, starts at earliest and is read by the running source', async () => {
    const topic = topicName('grow');
    await createTopic(admin, topic, 1);
    await produce(producer, topic, 0, ['a0', 'a1']);
    const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', startingOffsets: 'latest' });
    try {
      await source.open(openContext);
      expect(await source.latestOffsets()).toEqual({ [`${topic}:0`]: 2 });
      expect(await source.startOffsets([`${topic}:0`], 'initial')).toEqual({ [`${topic}:0`]: 2 });
      // The reader's consumer is running and assigned partition 0 only.
      expect((await source.read({ source: source.name, partition: `${topic}:0`, from: 0, until: 2 }, readContext())).map((r) => r.value)).toEqual(['a0', 'a1']);
      await admin.createPartitions({ topicPartitions: [{ topic, count: 2 }] });
      await waitForPartitions(admin, topic, 2);
      // A new producer: the shared one's metadata does not know the new partition yet.
      const fresh = testKafka().producer();
      await fresh.connect();
      await produce(fresh, topic, 1, ['b0', 'b1', 'b2']).finally(() => fresh.disconnect());
      const latest = await source.latestOffsets();
      expect(latest).toEqual({ [`${topic}:0`]: 2, [`${topic}:1`]: 3 });
      expect(await source.startOffsets([`${topic}:1`], 'discovered')).toEqual({ [`${topic}:1`]: 0 });
      const added = await source.read({ source: source.name, partition: `${topic}:1`, from: 0, until: 3 }, readContext());
      expect(added.map((r) => r.value)).toEqual(['b0', 'b1', 'b2']);
      expect((await source.read({ source: source.name, partition: `${topic}:0`, from: 1, until: 2 }, readContext())).map((r) => r.value)).toEqual(['a1']);
    } finally {
      await source.close();
    }
  });

  it('a topic pattern picks up topics created while running', async () => {
    const prefix = topicName('pattern');
    await createTopic(admin, `${prefix}-a`, 1);
    await produce(producer, `${prefix}-a`, 0, ['a']);
    const source = createKafkaSource({ brokers: brokers(), topicPattern: new RegExp(`^${prefix}-`), deserializer: 'string', startingOffsets: 'earliest' });
    try {
      await source.open(openContext);
      expect(await source.latestOffsets()).toEqual({ [`${prefix}-a:0`]: 1 });
      expect((await source.read({ source: source.name, partition: `${prefix}-a:0`, from: 0, until: 1 }, readContext())).map((r) => r.value)).toEqual(['a']);
      await createTopic(admin, `${prefix}-b`, 2);
      await produce(producer, `${prefix}-b`, 1, ['b']);
      expect(await source.latestOffsets()).toEqual({ [`${prefix}-a:0`]: 1, [`${prefix}-b:0`]: 0, [`${prefix}-b:1`]: 1 });
      expect((await source.read({ source: source.name, partition: `${prefix}-b:1`, from: 0, until: 1 }, readContext())).map((r) => r.value)).toEqual(['b']);
    } finally {
      await source.close();
    }
  });

  it('assign reads only the listed partitions and starts them at explicit offsets', async () => {
    const topic = topicName('assign');
    await createTopic(admin, topic, 3);
    for (const p of [0, 1, 2]) await produce(producer, topic, p, ['x', 'y', 'z']);
    const source = createKafkaSource({
      brokers: brokers(),
      assign: [`${topic}:0`, `${topic}:2`],
      startingOffsets: { [`${topic}:0`]: 1, [`${topic}:2`]: 'earliest' },
      deserializer: 'string',
    });
    try {
      await source.open(openContext);
      expect(await source.latestOffsets()).toEqual({ [`${topic}:0`]: 3, [`${topic}:2`]: 3 });
      expect(await source.startOffsets([`${topic}:0`, `${topic}:2`], 'initial')).toEqual({ [`${topic}:0`]: 1, [`${topic}:2`]: 0 });
      expect((await source.read({ source: source.name, partition: `${topic}:2`, from: 1, until: 3 }, readContext())).map((r) => r.value)).toEqual(['y', 'z']);
    } finally {
      await source.close();
    }
  });

  for (const reader of ['fetch', 'consumer'] as const) {
    it(`a range the log does not reach fails with SOURCE_FAILED after readTimeoutMs, never a shorter result (reader "${reader}")`, async () => {
      const topic = topicName('short');
      await createTopic(admin, topic, 1);
      await produce(producer, topic, 0, ['a', 'b', 'c']);
      const source = createKafkaSource({ brokers: brokers(), topics: [topic], deserializer: 'string', readTimeoutMs: 1500, reader });
      try {
        await source.open(openContext);
        // Offsets 3 to 9 were never written (a plan made before a leader lost its tail, say).
        const error = await source.read({ source: source.name, partition: `${topic}:0`, from: 0, until: 10 }, readContext()).catch((e: unknown) => e);
        expect(isMicrobatchError(error, 'SOURCE_FAILED')).toBe(true);
        expect((error as MicrobatchError).details).toMatchObject({ topic, partition: 0, from: 0, until: 10, position: 3 });
      } finally {
        await source.close();
      }
    });
  }

  for (const reader of ['fetch', 'consumer'] as const) {
    it(`a task's source lists and fetches only the partitions its task owns (reader "${reader}")`, async () => {
      const topics = [topicName('task-a'), topicName('task-b')];
      for (const topic of topics) {
        await createTopic(admin, topic, 4);
        for (const p of [0, 1, 2, 3]) await produce(producer, topic, p, [`${p}-x`, `${p}-y`]);
      }
      const readerGroupPrefix = topicName('reader');
      const source = createKafkaSource({ brokers: brokers(), topics, deserializer: 'string', startingOffsets: 'earliest', readerGroupPrefix, reader });
      try {
        // Task 2 of a group: the engine tells the source which partition keys the task owns.
        await source.open({ ...openContext, ownsPartition: (partition) => partition.endsWith(':2') });
        expect(await source.latestOffsets()).toEqual({ [`${topics[0]}:2`]: 2, [`${topics[1]}:2`]: 2 });
        expect((await source.read({ source: source.name, partition: `${topics[1]}:2`, from: 0, until: 2 }, readContext())).map((r) => r.value)).toEqual(['2-x', '2-y']);
        const groups = (await admin.listGroups()).groups.filter((g) => g.groupId.startsWith(readerGroupPrefix));
        if (reader === 'fetch') {
          // Fetches go straight to the leaders: no group at all.
          expect(groups).toEqual([]);
          return;
        }
        // The consumer's private group assigns it just the task's partitions.
        expect(groups).toHaveLength(1);
        const [described] = (await admin.describeGroups([groups[0]!.groupId])).groups;
        expect(described?.members).toHaveLength(1);
        const assigned = AssignerProtocol.MemberAssignment.decode(described!.members[0]!.memberAssignment);
        expect(assigned?.assignment).toEqual({ [topics[0]!]: [2], [topics[1]!]: [2] });
      } finally {
        await source.close();
      }
    });
  }
});
