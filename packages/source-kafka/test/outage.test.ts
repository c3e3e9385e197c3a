import { setTimeout as sleep } from 'node:timers/promises';
import { StreamingContext, createDefaultLogger, createMemoryCheckpointData, createMemoryCheckpointStore, type Logger } from '@microbatch/core';
import { createMemorySinkData, createMemoryTransactionalSink } from '@microbatch/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { createKafkaSource } from '../src/index.js';
import { createTopic, privateBroker, testKafka, topicName, type PrivateKafka } from './helpers.js';

// A private broker on a free port: this test takes it down, which no test may do to the shared one.
const privateKafka = privateBroker();
let broker: PrivateKafka;
beforeAll(() => void (broker = privateKafka()));

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

async function newTopic(label: string, partitions: number): Promise<string> {
  const topic = topicName(label);
  const admin = testKafka([broker.url]).admin();
  await admin.connect();
  await createTopic(admin, topic, partitions).finally(() => admin.disconnect());
  return topic;
}

describe('a 30-second broker outage, default options', () => {
  // Both applications live through the same outage (one outage keeps the suite short): one idle
  // (its planning fails while the broker is down), one in the middle of a backlog.
  it('an idle application and one working through a backlog both ride it out and output every record exactly once', async () => {
    const idleTopic = await newTopic('idle', 2);
    const busyTopic = await newTopic('busy', 3);
    const idleBefore = await produceRecords(idleTopic, 2, 10, 'a');
    // 200 records per partition in ranges of 5: 40 batches, far from done when the broker goes down.
    const backlog = await produceRecords(busyTopic, 3, 200, 'r');
    const idle = application(idleTopic);
    const busy = application(busyTopic, 5);
    try {
      await idle.start();
      await idle.waitForOutput(idleBefore.length);
      await busy.start();
      await busy.waitForOutput(30);

      await broker.restart({ downMs: OUTAGE_MS });
      expect(busy.output().length).toBeLessThan(backlog.length);
      const idleAfter = await produceRecords(idleTopic, 2, 10, 'b');
      await Promise.all([idle.waitForOutput(idleBefore.length + idleAfter.length), busy.waitForOutput(backlog.length)]);

      expect(idle.running()).toBe(true);
      expect(busy.running()).toBe(true);
      expectExactlyOnce(idle, [...idleBefore, ...idleAfter]);
      expectExactlyOnce(busy, backlog);
      // The idle application's planning met the outage: the source said so, and said when it ended.
      expect(idle.warnings.some((w) => w.includes('Kafka brokers unreachable') && w.includes('retries'))).toBe(true);
      expect(idle.warnings).toContain('Kafka brokers reachable again');
    } finally {
      await Promise.all([idle.close(), busy.close()]);
    }
  }, 240_000);
});
