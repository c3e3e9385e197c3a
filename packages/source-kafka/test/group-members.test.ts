import { StreamingGroup, createDefaultLogger, createMemoryCheckpointData, createMemoryCheckpointStore, silentLogger, type MemoryCheckpointData } from '@microbatch/core';
import { createMemorySinkData, createMemoryTransactionalSink, type MemorySinkData } from '@microbatch/testkit';
import type { Admin, Producer } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { createKafkaGroupCoordinator, createKafkaSource, type KafkaGroupCoordinatorOptions } from '../src/index.js';
import { Produced, exactlyOnce } from './group-support.js';
import { brokers, connectClients, createTopic, testKafka, topicName } from './helpers.js';

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

const logger = process.env.MB_TEST_LOG ? createDefaultLogger({}, { level: 'info' }) : silentLogger;

/** One application: its topics, its shared checkpoint store and sink (the members share them as processes would share a database). */
interface App {
  appId: string;
  topics: Record<string, number>;
  store: MemoryCheckpointData;
  sink: MemorySinkData<string>;
}

function newApp(topics: Record<string, number>): App {
  return { appId: topicName('app'), topics, store: createMemoryCheckpointData(), sink: createMemorySinkData<string>() };
}

const members: StreamingGroup[] = [];
afterEach(async () => {
  await Promise.all(members.splice(0).map((m) => m.stop({ graceful: false })));
});

async function member(app: App, coordinator: Partial<KafkaGroupCoordinatorOptions> = {}): Promise<StreamingGroup> {
  const topics = Object.keys(app.topics);
  const group = new StreamingGroup({
    appId: app.appId,
    coordinator: createKafkaGroupCoordinator({ brokers: brokers(), topics, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, metadataMaxAgeMs: 1000, ...coordinator }),
    logger,
    stopOnSignals: false,
    revokeTimeoutMs: 2000,
    context: {
      batchIntervalMs: 200,
      checkpoint: createMemoryCheckpointStore({ data: app.store }),
      maxRecordsPerPartition: 7,
      stopWhenIdle: false,
    },
    build: (ssc) => {
      ssc
        .source(createKafkaSource({ brokers: brokers(), topics, name: 'events', deserializer: 'string', startingOffsets: 'earliest', retryBackoff: { initialMs: 50, maxMs: 500 } }))
        .map((r) => `${r.topic}:${r.partition}/${r.offset}/${r.value}`)
        .to(createMemoryTransactionalSink({ name: 'out', data: app.sink }));
    },
  });
  members.push(group);
  await group.start();
  return group;
}

const committed = (app: App) => [...app.sink.committed.values()].flatMap((c) => c.records as string[]);

/** Waits until every produced record was committed, then checks each was committed once. */
async function allOnce(app: App, produced: Produced): Promise<void> {
  await expect.poll(() => committed(app).length, { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(produced.records.length);
  expect(exactlyOnce(produced.records, committed(app))).toEqual({ missing: [], duplicated: [], unexpected: [] });
  expect(app.sink.mismatches).toEqual([]);
}

const allTasks = (n: number) => Array.from({ length: n }, (_, t) => t);

/** The members' tasks once they settled: disjoint, covering every task, in balance. */
async function split(group: readonly StreamingGroup[], tasks: number): Promise<number[][]> {
  const settled = () => {
    const owned = group.map((m) => m.tasks);
    const flat = owned.flat().sort((a, b) => a - b);
    const counts = owned.map((t) => t.length);
    return JSON.stringify(flat) === JSON.stringify(allTasks(tasks)) && Math.max(...counts) - Math.min(...counts) <= 1;
  };
  await expect.poll(settled, { timeout: 30_000, interval: 100 }).toBe(true);
  return group.map((m) => m.tasks);
}

describe('StreamingGroup members over the Kafka consumer group', () => {
  it('two, then three, then two members share the tasks; every record exactly once through each rebalance', async () => {
    // Task N = partition N of both topics: tasks 0..3 have a partition of each, tasks 4 and 5 only one of "wide".
    const app = newApp({ [topicName('wide')]: 6, [topicName('narrow')]: 4 });
    for (const [topic, n] of Object.entries(app.topics)) await createTopic(admin, topic, n);
    const produced = new Produced(producer);
    await produced.fill(app.topics, 20, 'a');

    const a = await member(app);
    const b = await member(app);
    const [ofA, ofB] = await split([a, b], 6);
    expect(ofA!.length).toBe(3);
    expect(ofB!.length).toBe(3);
    await allOnce(app, produced);

    // A member added during the run takes tasks over from both; nothing doubled or lost.
    await produced.fill(app.topics, 15, 'b');
    const c = await member(app);
    const three = await split([a, b, c], 6);
    expect(three.map((t) => t.length)).toEqual([2, 2, 2]);
    // Sticky: the old members kept tasks they had.
    expect(three[0]!.every((t) => ofA!.includes(t))).toBe(true);
    expect(three[1]!.every((t) => ofB!.includes(t))).toBe(true);
    await produced.fill(app.topics, 15, 'c');
    await allOnce(app, produced);

    // A member that stops leaves the group: the others take its tasks at once.
    await produced.fill(app.topics, 15, 'd');
    await a.stop();
    await split([b, c], 6);
    await produced.fill(app.topics, 10, 'e');
    await allOnce(app, produced);
    // Each task ran under its own namespace and took a new epoch at each move.
    expect([...app.sink.epochs.keys()].sort()).toEqual(allTasks(6).map((t) => `${app.appId}.task-${t}`).sort());
  }, 150_000);

  it('a partition added to a topic during the run becomes a task that some member runs', async () => {
    const topic = topicName('grow');
    const app = newApp({ [topic]: 2 });
    await createTopic(admin, topic, 2);
    const produced = new Produced(producer);
    await produced.fill(app.topics, 10, 'a');
    const a = await member(app);
    const b = await member(app);
    await split([a, b], 2);
    await allOnce(app, produced);

    await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
    // A new producer: the shared one's metadata does not know the new partition yet.
    const fresh = testKafka().producer();
    await fresh.connect();
    produced.producer = fresh;
    try {
      await produced.write(topic, 2, 12, 'new');
      await produced.write(topic, 0, 5, 'old');
    } finally {
      await fresh.disconnect();
    }
    await split([a, b], 3);
    await allOnce(app, produced);
  }, 120_000);
});

describe('createKafkaGroupCoordinator: options and start', () => {
  it('bad options fail with INVALID_OPTION', () => {
    const good = { brokers: ['127.0.0.1:9092'], topics: ['t'] };
    const cases: Array<[Partial<KafkaGroupCoordinatorOptions>, string]> = [
      [{ topics: undefined }, 'topics'],
      [{ topics: [] }, 'topics'],
      [{ brokers: [] }, 'brokers'],
      [{ groupId: '' }, 'groupId'],
      [{ sessionTimeoutMs: 0 }, 'sessionTimeoutMs'],
      [{ heartbeatIntervalMs: 1.5 }, 'heartbeatIntervalMs'],
      [{ sessionTimeoutMs: 6000, heartbeatIntervalMs: 6000 }, 'heartbeatIntervalMs'],
      [{ rebalanceTimeoutMs: -1 }, 'rebalanceTimeoutMs'],
      [{ metadataMaxAgeMs: Number.NaN }, 'metadataMaxAgeMs'],
      [{ retryBackoff: { initialMs: 0 } }, 'retryBackoff.initialMs'],
    ];
    for (const [bad, option] of cases) {
      expect(() => createKafkaGroupCoordinator({ ...good, ...bad } as KafkaGroupCoordinatorOptions), option).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTION', details: expect.objectContaining({ option }) }),
      );
    }
  });

  it('an unreachable broker fails start with SOURCE_FAILED and the cause, after the retries', async () => {
    const coordinator = createKafkaGroupCoordinator({ brokers: ['127.0.0.1:1'], topics: ['t'], retryBackoff: { initialMs: 20, maxMs: 50 } });
    const assigned: number[][] = [];
    const error = await coordinator.start({ assigned: (t) => assigned.push([...t]), failed: () => {} }, { appId: 'unreachable', logger: silentLogger }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SOURCE_FAILED', cause: expect.objectContaining({ name: expect.stringMatching(/^KafkaJS/) }) });
    expect(assigned).toEqual([]);
    await coordinator.stop();
    await coordinator.stop(); // safe twice
  });
});
