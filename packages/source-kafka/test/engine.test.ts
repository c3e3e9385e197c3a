import {
  StreamingContext,
  createMemoryCheckpointData,
  createMemoryCheckpointStore,
  isMicrobatchError,
  silentLogger,
  type MemoryCheckpointData,
  type MicrobatchError,
} from '@microbatch/core';
import { createCrashSwitch, createMemorySinkData, createMemoryTransactionalSink, type CrashSwitch, type MemorySinkData } from '@microbatch/testkit';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafkaSource } from '../src/index.js';
import { brokers, connectClients, createTopic, topicName } from './helpers.js';

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ kafka, admin, producer } = clients));

interface World {
  appId: string;
  topic: string;
  store: MemoryCheckpointData;
  sink: MemorySinkData<string>;
}

/** One "process": a fresh context, source, store client and sink client over the durable state. */
function processOf(world: World, crash?: CrashSwitch, extra: { maxBatchAttempts?: number; retryTimeoutMs?: number; readAhead?: boolean } = {}) {
  const store = createMemoryCheckpointStore({ data: world.store });
  const ssc = new StreamingContext({
    appId: world.appId,
    batchIntervalMs: 200,
    checkpoint: crash ? crash.wrapStore(store) : store,
    maxRecordsPerPartition: 4,
    stopWhenIdle: !crash,
    stopOnSignals: false,
    retryBackoffMs: 200,
    logger: silentLogger,
    ...extra,
    ...(crash ? { atProtocolPoint: crash.atProtocolPoint } : {}),
  });
  const source = createKafkaSource({ brokers: brokers(), name: 'events', topics: [world.topic], deserializer: 'string', startingOffsets: 'earliest' });
  const sink = createMemoryTransactionalSink<string>({ name: 'out', data: world.sink, afterPartitionCommit: async () => crash?.point('output:partition') });
  ssc
    .source(source)
    .map((r) => `${r.partition}/${r.offset}/${r.value}`)
    .to(sink);
  return { ssc, source };
}

async function abortedTransaction(topic: string, partition: number, values: string[]): Promise<void> {
  const tx = kafka.producer({ transactionalId: `tx-${topic}`, idempotent: true, maxInFlightRequests: 1 });
  await tx.connect();
  try {
    const t = await tx.transaction();
    await t.send({ topic, messages: values.map((value) => ({ partition, value })) });
    await t.abort();
  } finally {
    await tx.disconnect();
  }
}

describe('through StreamingContext', () => {
  it('a process that dies mid-output is replaced; the replay reads identical ranges although input arrived meanwhile', async () => {
    const world: World = { appId: topicName('app'), topic: topicName('e2e'), store: createMemoryCheckpointData(), sink: createMemorySinkData() };
    await createTopic(admin, world.topic, 3);
    const expected: string[] = [];
    const write = async (partition: number, values: string[]) => {
      const [written] = await producer.send({ topic: world.topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
      const base = Number(written!.baseOffset);
      expected.push(...values.map((v, i) => `${partition}/${base + i}/${v}`));
    };
    await write(0, ['a', 'b', 'c', 'd', 'e', 'f']);
    await abortedTransaction(world.topic, 0, ['x', 'y']); // aborted records and a marker: gaps in the offsets
    await write(0, ['g', 'h']);
    await write(1, ['i', 'j', 'k']);
    await write(2, ['l', 'm', 'n', 'o', 'p']);

    const crash = createCrashSwitch();
    crash.arm('output:partition', 4); // dies in its second batch, with part of it committed
    const doomed = processOf(world, crash);
    await doomed.ssc.start();
    await crash.crashed;
    // The dead process's client is closed by hand; its context never resumes.
    await doomed.source.close();

    // Input that arrives while the process is down must not leak into the replayed batch.
    await write(0, ['q', 'r']);
    await write(1, ['s']);
    await write(2, ['t', 'u', 'v']);

    const next = processOf(world);
    let replayed = 0;
    next.ssc.addListener({ onStreamingStarted: (e) => void (replayed = e.replayBatches) });
    await next.ssc.start();
    await next.ssc.awaitTermination();
    await next.source.close();

    expect(replayed).toBeGreaterThanOrEqual(1);
    expect(world.sink.replaysSkipped).toBeGreaterThan(0);
    expect(world.sink.mismatches).toEqual([]);
    const committed = [...world.sink.committed.values()].flatMap((c) => c.records);
    expect([...committed].sort()).toEqual([...expected].sort());
  }, 90_000);

  it('a logged range deleted by retention before its replay stops the context with OFFSET_OUT_OF_RANGE', async () => {
    const world: World = { appId: topicName('app'), topic: topicName('gone'), store: createMemoryCheckpointData(), sink: createMemorySinkData() };
    await createTopic(admin, world.topic, 1);
    await producer.send({ topic: world.topic, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, value: `v${i}` })) });
    const crash = createCrashSwitch();
    crash.arm('plan:after-write'); // the first batch's ranges are logged, nothing is read yet
    const doomed = processOf(world, crash);
    await doomed.ssc.start();
    await crash.crashed;
    await doomed.source.close();

    await admin.fetchTopicOffsets(world.topic);
    await admin.deleteTopicRecords({ topic: world.topic, partitions: [{ partition: 0, offset: '6' }] });
    const next = processOf(world, undefined, { maxBatchAttempts: 1, retryTimeoutMs: 0 });
    await next.ssc.start();
    const error = await next.ssc.awaitTermination().then(
      () => undefined,
      (e: unknown) => e,
    );
    await next.source.close();
    // The engine wraps the batch's failure; the source's typed error is in the cause chain.
    const chain: unknown[] = [];
    for (let e: unknown = error; e instanceof Error; e = e.cause) chain.push(e);
    const outOfRange = chain.find((e) => isMicrobatchError(e, 'OFFSET_OUT_OF_RANGE'));
    expect(outOfRange, String(error)).toBeDefined();
    expect((outOfRange as MicrobatchError).details).toMatchObject({ topic: world.topic, partition: 0, from: 0, logStartOffset: 6 });
    expect(world.sink.committed.size).toBe(0);
  }, 60_000);
  it('with readAhead, a backlog drains exactly once and later batches find their ranges already read', async () => {
    const world: World = { appId: topicName('app'), topic: topicName('ahead'), store: createMemoryCheckpointData(), sink: createMemorySinkData() };
    await createTopic(admin, world.topic, 3);
    const expected: string[] = [];
    for (let partition = 0; partition < 3; partition++) {
      const values = Array.from({ length: 12 }, (_, i) => `p${partition}-${i}`);
      const [written] = await producer.send({ topic: world.topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
      const base = Number(written!.baseOffset);
      expected.push(...values.map((v, i) => `${partition}/${base + i}/${v}`));
    }
    const { ssc, source } = processOf(world, undefined, { readAhead: true });
    // Reads per range, and whether the batch of that range had been submitted when it was read.
    const reads = new Map<string, number>();
    const submitted = new Set<number>();
    let readBeforeItsBatch = 0;
    const read = source.read.bind(source);
    source.read = async (range, context) => {
      const key = `${range.partition}:${range.from}-${range.until}`;
      reads.set(key, (reads.get(key) ?? 0) + 1);
      if (!submitted.has(context.batchTime)) readBeforeItsBatch++;
      return read(range, context);
    };
    ssc.addListener({ onBatchSubmitted: (info) => void submitted.add(info.batchTime) });
    await ssc.start();
    await ssc.awaitTermination();
    await source.close();

    expect(world.sink.mismatches).toEqual([]);
    const committed = [...world.sink.committed.values()].flatMap((c) => c.records);
    expect([...committed].sort()).toEqual([...expected].sort());
    expect([...reads.values()].every((n) => n === 1)).toBe(true);
    // 12 records per partition in ranges of 4: the second and third ranges were certain a batch early.
    expect(readBeforeItsBatch).toBe(6);
  }, 90_000);
});
