import { describe, expect, it } from 'vitest';
import { createMemoryLogSource, type MemoryLog } from '@microbatch/source-memory';
import {
  PROTOCOL_CRASH_POINTS,
  createCrashSwitch,
  createMemorySinkData,
  createMemoryTransactionalSink,
  type CrashSwitch,
  type MemorySinkData,
} from '@microbatch/testkit';
import {
  createMemoryCheckpointData,
  createMemoryCheckpointStore,
  isMicrobatchError,
  type MemoryCheckpointData,
  type ProtocolPoint,
  type StreamingContext,
  type StreamingContextOptions,
} from '../src/index.js';
import { logOf, multiset, testContext, uniqueAppId } from './helpers.js';

interface World {
  appId: string;
  log: MemoryLog<string>;
  store: MemoryCheckpointData;
  sink: MemorySinkData<string>;
}

const newWorld = (): World => ({
  appId: uniqueAppId('recovery'),
  log: logOf([
    ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
    ['h', 'i', 'j'],
    ['k', 'l', 'm', 'n', 'o'],
  ]),
  store: createMemoryCheckpointData(),
  sink: createMemorySinkData<string>(),
});

/**
 * Input that arrives while the process is down. A batch re-planned after the crash (instead of
 * replayed from its log) would cover more records under a batch time the sink already committed,
 * and the transactional sink would skip them: the data loss the write-ahead plan prevents.
 */
function appendLateInput(world: World): void {
  world.log.append(0, 'p', 'q');
  world.log.append(1, 'r');
  world.log.append(2, 's', 't', 'u');
}

/** One "process": a fresh context, store client and sink client over the world's durable state. */
function processOf(
  world: World,
  crash?: CrashSwitch,
  overrides: Partial<StreamingContextOptions> = {},
): { ssc: StreamingContext; replayed: Promise<number> } {
  const store = createMemoryCheckpointStore({ data: world.store });
  const ssc = testContext({
    appId: world.appId,
    checkpoint: crash ? crash.wrapStore(store) : store,
    maxRecordsPerPartition: 2,
    ...(crash ? { atProtocolPoint: crash.atProtocolPoint } : {}),
    ...overrides,
  });
  const replayed = new Promise<number>((resolve) => ssc.addListener({ onStreamingStarted: (e) => resolve(e.replayBatches) }));
  const sink = createMemoryTransactionalSink<string>({
    name: 'out',
    data: world.sink,
    afterPartitionCommit: async () => crash?.point('output:partition'),
  });
  ssc
    .source(createMemoryLogSource(world.log, { name: 'events' }))
    .map((r) => `${r.partition}/${r.offset}/${r.value}`)
    .filter((s) => !s.endsWith('/c'))
    .to(sink);
  return { ssc, replayed };
}

async function runToEnd(world: World): Promise<number> {
  const { ssc, replayed } = processOf(world);
  await ssc.start();
  await ssc.awaitTermination();
  return replayed;
}

const committed = (world: World) => [...world.sink.committed.values()].flatMap((c) => c.records);

describe('recovery: a crash at every step of the protocol', async () => {
  const reference = newWorld();
  appendLateInput(reference);
  await runToEnd(reference);
  const expected = multiset(committed(reference));

  it('the uninterrupted reference run writes every record but the filtered one, once', () => {
    expect(expected).toHaveLength(20);
    expect(reference.sink.replaysSkipped).toBe(0);
  });

  // A stateless pipeline writes no snapshot, so that point is exercised in stateful.test.ts.
  for (const point of PROTOCOL_CRASH_POINTS.filter((p) => p !== 'snapshot:after-write')) {
    for (const nth of [1, 2, 3]) {
      it(`crash at ${point} (#${nth}), restart: nothing lost, nothing doubled`, async () => {
        const world = newWorld();
        const crash = createCrashSwitch();
        crash.arm(point, nth);
        const { ssc: doomed } = processOf(world, crash);
        await doomed.start();
        const outcome = await Promise.race([crash.crashed.then(() => 'crashed'), doomed.awaitTermination().then(() => 'finished')]);
        expect(outcome).toBe('crashed');

        appendLateInput(world);
        const replayed = await runToEnd(world);

        expect(world.sink.mismatches).toEqual([]);
        expect(multiset(committed(world))).toEqual(expected);
        const planDurable = !['plan:before-write', 'checkpoint:during-write'].includes(point);
        // Once a plan is durable, the restart must run that batch again from its log.
        if (planDurable) expect(replayed).toBeGreaterThanOrEqual(1);
        if (point === 'output:partition' || point === 'output:after') expect(world.sink.replaysSkipped).toBeGreaterThan(0);
      });
    }
  }

  it('a second crash during the replay is recovered too', async () => {
    const world = newWorld();
    const first = createCrashSwitch();
    first.arm('output:partition', 2);
    const p1 = processOf(world, first).ssc;
    await p1.start();
    await first.crashed;
    const second = createCrashSwitch();
    second.arm('output:partition', 1);
    const p2 = processOf(world, second).ssc;
    await p2.start();
    await second.crashed;
    appendLateInput(world);
    await runToEnd(world);
    expect(world.sink.mismatches).toEqual([]);
    expect(multiset(committed(world))).toEqual(expected);
  });
});

describe('epoch fencing', () => {
  /** A process that stalls (a GC pause, a partition) at `point` of its first batch until released. */
  async function stalledAt(world: World, point: ProtocolPoint) {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const stalled = new Promise<void>((resolve) => (reached = resolve));
    let first = true;
    const { ssc } = processOf(world, undefined, {
      atProtocolPoint: async (p) => {
        if (p !== point || !first) return;
        first = false;
        reached();
        await gate;
      },
    });
    await ssc.start();
    await stalled;
    return { release, termination: () => ssc.awaitTermination().then(() => undefined, (e: unknown) => e) };
  }

  it('a stalled old process that wakes before its output is fenced by the sink', async () => {
    const world = newWorld();
    const old = await stalledAt(world, 'output:before');
    await runToEnd(world); // a new process takes epoch 2 and does all the work
    expect(await createMemoryCheckpointStore({ data: world.store }).currentEpoch(world.appId)).toBe(2);

    old.release();
    const error = await old.termination();
    expect(isMicrobatchError(error, 'FENCED')).toBe(true);
    // The transactional sink refused the stale epoch: the checkpoint store was never reached.
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ output: 'out', epoch: 1, currentEpoch: 2 });
    const uninterrupted = newWorld();
    await runToEnd(uninterrupted);
    expect(multiset(committed(world))).toEqual(multiset(committed(uninterrupted)));
    expect(world.sink.mismatches).toEqual([]);
  });

  it('a stalled old process that wakes after its output is fenced by the checkpoint store', async () => {
    const world = newWorld();
    const old = await stalledAt(world, 'output:after');
    await runToEnd(world);

    old.release();
    const error = await old.termination();
    expect(isMicrobatchError(error, 'FENCED')).toBe(true);
    // Its output had committed before the stall; its next checkpoint write is what the store refused.
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({ appId: world.appId, epoch: 1, currentEpoch: 2 });
    expect((error as { details: Record<string, unknown> }).details.output).toBeUndefined();
    expect(world.sink.replaysSkipped).toBeGreaterThan(0);
    expect(world.sink.mismatches).toEqual([]);
  });
});
