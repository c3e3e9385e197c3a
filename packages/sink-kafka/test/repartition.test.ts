import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, silentLogger } from '@microbatch/core';
import { createKafkaSource } from '@microbatch/source-kafka';
import { createGeneratorSource } from '@microbatch/source-memory';
import { createMemoryTransactionalSink } from '@microbatch/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafkaSink } from '../src/index.js';
import { brokers, createTopic, deleteTopics, topicName } from './support/kafka.js';

const dirs: string[] = [];
const topics: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await deleteTopics(topics);
});

const USERS = 13;
const PER_PARTITION = 3000;
const event = (partition: number, offset: number) => ({ user: `u${(partition * 7 + offset * 3) % USERS}`, amount: (offset % 5) + 1 });

describe('repartitioning through a topic', () => {
  it('stage 1 writes records keyed by user transactionally; stage 2 reads them read_committed, co-partitioned by user, and its per-user totals are exact', async () => {
    const topic = topicName('by-user');
    topics.push(topic, `${topic}.progress`);
    await createTopic(topic, 4);
    const dir = mkdtempSync(join(tmpdir(), 'sink-kafka-repartition-'));
    dirs.push(dir);
    const checkpoint = createFsCheckpointStore({ dir });

    // Stage 1: input keyed by anything (here: generator partitions), re-keyed by user.
    const stage1 = new StreamingContext({ appId: 'stage-1', batchIntervalMs: 50, checkpoint, stopWhenIdle: true, stopOnSignals: false, logger: silentLogger, maxRecordsPerPartition: 1000 });
    stage1
      .source(createGeneratorSource({ name: 'events', partitions: 3, recordsPerPartition: PER_PARTITION, generate: ({ partition, offset }) => event(partition, offset) }))
      .to(createKafkaSink({ name: 'by-user', brokers: brokers(), topic, progressTopic: `${topic}.progress`, key: (e) => e.user, value: (e) => JSON.stringify(e) }));
    await stage1.start();
    await stage1.awaitTermination();

    // Stage 2: the topic's partitions are by user (murmur2 of the key), so a per-user aggregate of
    // one partition (one task, in a group) is the aggregate of that user.
    const totals = createMemoryTransactionalSink<[string, number]>({ name: 'totals' });
    const partitionsOfUser = new Map<string, Set<string>>();
    const stage2 = new StreamingContext({ appId: 'stage-2', batchIntervalMs: 50, checkpoint, stopWhenIdle: true, stopOnSignals: false, logger: silentLogger });
    stage2
      .source(createKafkaSource({ name: 'by-user', brokers: brokers(), topics: [topic], startingOffsets: 'earliest', isolationLevel: 'read_committed', deserializer: 'json' }))
      .map((r): [string, number] => {
        const { user, amount } = r.value as { user: string; amount: number };
        partitionsOfUser.set(user, (partitionsOfUser.get(user) ?? new Set()).add(String(r.partition)));
        return [user, amount];
      })
      .reduceByKey((a, b) => a + b)
      .to(totals);
    await stage2.start();
    await stage2.awaitTermination();

    const expected = new Map<string, number>();
    for (let p = 0; p < 3; p++) for (let o = 0; o < PER_PARTITION; o++) {
      const e = event(p, o);
      expected.set(e.user, (expected.get(e.user) ?? 0) + e.amount);
    }
    const got = new Map<string, number>();
    for (const [user, amount] of totals.records()) got.set(user, (got.get(user) ?? 0) + amount);
    expect(got).toEqual(expected);
    // Co-partitioned: every user's records are in exactly one partition of the topic, so a task
    // owning that partition aggregates the user whole.
    expect([...partitionsOfUser.values()].every((parts) => parts.size === 1)).toBe(true);
    expect(partitionsOfUser.size).toBe(USERS);
  }, 120_000);
});
