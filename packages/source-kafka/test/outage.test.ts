import { setTimeout as sleep } from 'node:timers/promises';
import { StreamingContext, createDefaultLogger, createMemoryCheckpointData, createMemoryCheckpointStore, type Logger } from '@microbatch/core';
import { createMemorySinkData, createMemoryTransactionalSink } from '@microbatch/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSource } from '../src/index.js';
import { createTopic, testKafka, topicName } from './helpers.js';

interface PrivateKafka {
  url: string;
  restart(options?: { downMs?: number }): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

// A private broker on a free port: these tests take it down, which no test may do to the shared one.
const servicesModule = new URL('../../../tools/services/src/index.mjs', import.meta.url).href;
let broker: PrivateKafka;
beforeAll(async () => {
  const { startPrivateService } = (await import(servicesModule)) as { startPrivateService(name: string): Promise<PrivateKafka> };
  broker = await startPrivateService('kafka');
}, 180_000);
afterAll(async () => {
  await broker?.stop();
});

// Longer than the old budget of planning retries (4 attempts, backoff from 1 s: about 20 s).
const OUTAGE_MS = 30_000;

/** Writes `count` records to each partition; returns the sink lines they must become. */
async function produceRecords(topic: string, partitions: number, count: number, label: string): Promise<string[]> {
  const producer = testKafka([broker.url]).producer();
  await producer.connect();
  const expected: string[] = [];
  try {
    for (let partition = 0; partition < partitions; partition++) {
      const values = Array.from({ length: count }, (_, i) => `${label}${i}`);
      const [written] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
      if (!written) throw new Error(`the producer did not write to ${topic}:${partition}`);
      expected.push(...values.map((v, i) => `${partition}/${Number(written.baseOffset) + i}/${v}`));
    }
  } finally {
    await producer.disconnect();
  }
  return expected;
}

/** Collects what the source logs at warn level, so the outage's log line can be checked. */
function capturingLogger(lines: string[]): Logger {
  const inner = process.env.MB_TEST_LOG ? createDefaultLogger() : undefined;
  const make = (): Logger => ({
    debug: (obj, msg) => inner?.debug(obj, msg),
    info: (obj, msg) => inner?.info(obj, msg),
    warn: (obj, msg) => {
      lines.push(typeof obj === 'string' ? obj : (msg ?? ''));
      inner?.warn(obj, msg);
    },
    error: (obj, msg) => inner?.error(obj, msg),
    child: () => make(),
  });
  return make();
}

/** A context with the Kafka source and default retry options, writing `partition/offset/value` lines. */
function application(topic: string, maxRecordsPerPartition?: number) {
  const warnings: string[] = [];
  const sink = createMemorySinkData<string>();
  const ssc = new StreamingContext({
    appId: topicName('outage-app'),
    batchIntervalMs: 200,
    checkpoint: createMemoryCheckpointStore({ data: createMemoryCheckpointData() }),
    stopOnSignals: false,
    logger: capturingLogger(warnings),
    ...(maxRecordsPerPartition ? { maxRecordsPerPartition } : {}),
  });
  const source = createKafkaSource({ brokers: [broker.url], topics: [topic], deserializer: 'string', startingOffsets: 'earliest' });
  ssc
    .source(source)
    .map((r) => `${r.partition}/${r.offset}/${r.value}`)
    .to(createMemoryTransactionalSink<string>({ name: 'out', data: sink }));
  let failure: unknown;
  let terminated = false;
  const output = () => [...sink.committed.values()].flatMap((c) => c.records);
  return {
    ssc,
    source,
    sink,
    warnings,
    output,
    async start() {
      await ssc.start();
      ssc.awaitTermination().then(
        () => void (terminated = true),
        (error: unknown) => {
          terminated = true;
          failure = error;
        },
      );
    },
    /** Waits until the sink holds `count` records; fails as soon as the context stops. */
    async waitForOutput(count: number, timeoutMs = 120_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (output().length < count) {
        if (terminated) throw new Error(`the context stopped with ${output().length}/${count} records out: ${String(failure)}`, { cause: failure });
        if (Date.now() > deadline) throw new Error(`only ${output().length}/${count} records out in ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    running: () => !terminated,
    async close() {
      if (!terminated) await ssc.stop();
      await source.close();
    },
  };
}

function expectExactlyOnce(app: ReturnType<typeof application>, expected: string[]): void {
  expect(app.sink.mismatches).toEqual([]);
  const out = app.output();
  expect(out.length).toBe(new Set(out).size);
  expect([...out].sort()).toEqual([...expected].sort());
}

describe('a 30-second broker outage, default options', () => {
  it('an idle application rides it out and then outputs what arrives, exactly once', async () => {
    const topic = topicName('idle');
    const admin = testKafka([broker.url]).admin();
    await admin.connect();
    await createTopic(admin, topic, 2).finally(() => admin.disconnect());
    const before = await produceRecords(topic, 2, 10, 'a');
    const app = application(topic);
    try {
      await app.start();
      await app.waitForOutput(before.length);
      await sleep(1000); // idle batches: planning finds nothing new

      await broker.restart({ downMs: OUTAGE_MS });
      const after = await produceRecords(topic, 2, 10, 'b');
      await app.waitForOutput(before.length + after.length);
      expect(app.running()).toBe(true);
      expectExactlyOnce(app, [...before, ...after]);
      expect(app.warnings.some((w) => w.includes('Kafka brokers unreachable') && w.includes('retries'))).toBe(true);
      expect(app.warnings).toContain('Kafka brokers reachable again');
    } finally {
      await app.close();
    }
  }, 240_000);

  it('an application working through a backlog rides it out and outputs every record exactly once', async () => {
    const topic = topicName('busy');
    const admin = testKafka([broker.url]).admin();
    await admin.connect();
    await createTopic(admin, topic, 3).finally(() => admin.disconnect());
    const expected = await produceRecords(topic, 3, 400, 'r');
    // 400 records per partition in ranges of 5: 80 batches, still far from done when the broker dies.
    const app = application(topic, 5);
    try {
      await app.start();
      await app.waitForOutput(30);
      await broker.kill();
      await sleep(OUTAGE_MS);
      expect(app.output().length).toBeLessThan(expected.length);
      await broker.start();
      await app.waitForOutput(expected.length);
      expect(app.running()).toBe(true);
      expectExactlyOnce(app, expected);
    } finally {
      await app.close();
    }
  }, 240_000);
});
