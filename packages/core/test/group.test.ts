import { describe, expect, it } from 'vitest';
import { MemoryLog, createMemoryLogSource } from '@microbatch/source-memory';
import { createMemorySinkData, createMemoryTransactionalSink, type MemorySinkData } from '@microbatch/testkit';
import {
  FencedError,
  MicrobatchError,
  StreamingGroup,
  createMemoryCheckpointData,
  createMemoryCheckpointStore,
  createStaticCoordinator,
  createVirtualClock,
  silentLogger,
  taskAppId,
  type AssignmentHandlers,
  type Coordinator,
  type MemoryCheckpointData,
  type ProtocolPoint,
  type SourceOpenContext,
  type StreamingContext,
} from '../src/index.js';
import { START, testContext, uniqueAppId } from './helpers.js';

/** docs/semantics.md §10: an application as a group of members sharing its tasks. */
interface World {
  appId: string;
  log: MemoryLog<string>;
  store: MemoryCheckpointData;
  sink: MemorySinkData<string>;
}

const PARTITIONS = 4;
const newWorld = (): World => {
  const log = new MemoryLog<string>(PARTITIONS);
  for (let p = 0; p < PARTITIONS; p++) log.append(p, ...Array.from({ length: 6 }, (_, i) => `p${p}-r${i}`));
  return { appId: uniqueAppId('group'), log, store: createMemoryCheckpointData(), sink: createMemorySinkData<string>() };
};

/** A coordinator the test steers by hand, standing in for the consumer group's rebalances. */
function handCoordinator(): Coordinator & { assign(tasks: number[]): void } {
  let handlers: AssignmentHandlers | undefined;
  let initial: number[] = [];
  return {
    kind: 'by-hand',
    async start(h) {
      handlers = h;
      h.assigned(initial);
    },
    async stop() {},
    assign(tasks) {
      if (handlers) handlers.assigned(tasks);
      else initial = tasks;
    },
  };
}

interface MemberOptions {
  stopWhenIdle?: boolean;
  /** Called at each protocol point of each task, e.g. to stall one task. */
  atProtocolPoint?: (task: number, point: ProtocolPoint) => Promise<void> | void;
  /** The program shuffles by key (a reduceByKey); `shufflesWithinTask` is set unless false is given. */
  shuffle?: boolean;
  shufflesWithinTask?: boolean;
  migrateFromSingleProcess?: boolean;
  refenceDelayMs?: number;
}

function member(world: World, coordinator: Coordinator, options: MemberOptions = {}): StreamingGroup {
  const hook = options.atProtocolPoint;
  return new StreamingGroup({
    appId: world.appId,
    coordinator,
    logger: silentLogger,
    stopOnSignals: false,
    shufflesWithinTask: options.shufflesWithinTask ?? options.shuffle ?? false,
    ...(options.refenceDelayMs === undefined ? {} : { refenceDelayMs: options.refenceDelayMs }),
    context: (task) => ({
      batchIntervalMs: 1000,
      checkpoint: createMemoryCheckpointStore({ data: world.store }),
      clock: createVirtualClock(START),
      maxRecordsPerPartition: 2,
      retryBackoffMs: 10,
      stopWhenIdle: options.stopWhenIdle ?? true,
      migrateFromSingleProcess: options.migrateFromSingleProcess ?? false,
      ...(hook ? { atProtocolPoint: (point: ProtocolPoint) => hook(task, point) } : {}),
    }),
    build: (ssc: StreamingContext) => {
      const values = ssc.source(createMemoryLogSource(world.log, { name: 'events' })).map((r) => r.value);
      const out = options.shuffle ? values.map((v): [string, number] => [v, 1]).reduceByKey((a, b) => a + b).map(([k]) => k) : values;
      out.to(createMemoryTransactionalSink({ name: 'out', data: world.sink }));
    },
  });
}

const everything = (world: World) =>
  Array.from({ length: PARTITIONS }, (_, p) => Array.from({ length: 6 }, (_, i) => `p${p}-r${i}`)).flat().sort();
const committed = (world: World) => [...world.sink.committed.values()].flatMap((c) => c.records as string[]).sort();

describe('a group of members sharing tasks', () => {
  it('two static members run tasks 0..3 between them: every record once, each task under its own namespace', async () => {
    const world = newWorld();
    const a = member(world, createStaticCoordinator({ member: 0, members: 2, tasks: PARTITIONS }));
    const b = member(world, createStaticCoordinator({ member: 1, members: 2, tasks: PARTITIONS }));
    await Promise.all([a.start(), b.start()]);
    expect(a.tasks).toEqual([0, 2]);
    expect(b.tasks).toEqual([1, 3]);
    await Promise.all([a.awaitTermination(), b.awaitTermination()]);
    expect(committed(world)).toEqual(everything(world));
    expect(world.sink.mismatches).toEqual([]);
    // Each task has its own epoch and checkpoints; the application id alone has none.
    for (let t = 0; t < PARTITIONS; t++) expect(world.store.checkpoints.get(taskAppId(world.appId, t))?.size).toBeGreaterThan(0);
    expect(world.store.checkpoints.get(world.appId)?.size ?? 0).toBe(0);
    for (let t = 0; t < PARTITIONS; t++) expect(world.store.epochs.get(taskAppId(world.appId, t))).toBe(1);
  });

  it("each task's sources are told which partitions the task owns; a single process tells them nothing", async () => {
    const world = newWorld();
    const seen = new Map<string, string[] | 'all'>();
    const spied = (appId: string) => {
      const source = createMemoryLogSource(world.log, { name: 'events' });
      return {
        ...source,
        open: async (context: SourceOpenContext) => {
          const owns = context.ownsPartition;
          seen.set(appId, owns ? ['0', '1', '2', '3'].filter((p) => owns(p)) : 'all');
          await source.open?.(context);
        },
      };
    };
    const group = new StreamingGroup({
      appId: world.appId,
      coordinator: createStaticCoordinator({ member: 0, members: 1, tasks: PARTITIONS }),
      logger: silentLogger,
      stopOnSignals: false,
      shufflesWithinTask: false,
      context: () => ({ batchIntervalMs: 1000, checkpoint: createMemoryCheckpointStore({ data: world.store }), clock: createVirtualClock(START), stopWhenIdle: true }),
      build: (ssc: StreamingContext) => ssc.source(spied(ssc.appId)).map((r) => r.value).to(createMemoryTransactionalSink({ name: 'out', data: world.sink })),
    });
    await group.start();
    await group.awaitTermination();
    for (let t = 0; t < PARTITIONS; t++) expect(seen.get(taskAppId(world.appId, t))).toEqual([String(t)]);
    const single = testContext({ appId: uniqueAppId('single'), checkpoint: createMemoryCheckpointStore({ data: createMemoryCheckpointData() }), stopWhenIdle: true });
    single.source(spied(single.appId)).map((r) => r.value).to(createMemoryTransactionalSink({ name: 'out', data: createMemorySinkData<string>() }));
    await single.start();
    await single.awaitTermination();
    expect(seen.get(single.appId)).toBe('all');
  });

  it('a task revoked from one member and assigned to another continues from its checkpoint, nothing doubled', async () => {
    const world = newWorld();
    const first = handCoordinator();
    first.assign([0, 1, 2, 3]);
    let batches = 0;
    let moved!: () => void;
    const movedNow = new Promise<void>((resolve) => (moved = resolve));
    const a = member(world, first, {
      stopWhenIdle: false,
      atProtocolPoint: async (task, point) => {
        // Task 1 moves away after its second batch's plan is durable: that batch stays pending.
        if (task === 1 && point === 'plan:after-write' && ++batches === 2) moved();
      },
    });
    await a.start();
    await movedNow;
    const second = handCoordinator();
    second.assign([1]);
    first.assign([0, 2, 3]);
    const b = member(world, second);
    await b.start();
    await b.awaitTermination();
    expect(a.tasks).toEqual([0, 2, 3]);
    await a.stop();
    expect(committed(world)).toEqual(everything(world));
    expect(world.sink.mismatches).toEqual([]);
  });

  it('a member stalled inside a task wakes up fenced: it stops that task by itself and keeps the others', async () => {
    const world = newWorld();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let stalled!: () => void;
    const isStalled = new Promise<void>((resolve) => (stalled = resolve));
    const zombieCoordinator = handCoordinator();
    zombieCoordinator.assign([0, 1]);
    const stops: Array<{ task: number; reason: string }> = [];
    const zombie = member(world, zombieCoordinator, {
      stopWhenIdle: false,
      atProtocolPoint: async (task, point) => {
        if (task === 1 && point === 'output:before') {
          stalled();
          await gate; // a GC pause, SIGSTOP: past the session timeout
        }
      },
    });
    zombie.addListener({ onTaskStopped: (e) => stops.push({ task: e.task, reason: e.reason }) });
    await zombie.start();
    await isStalled;
    // The coordinator gave task 1 to another member meanwhile; the zombie has not heard of it yet.
    const successor = member(world, createStaticCoordinator({ member: 1, members: 2, tasks: 2 }));
    await successor.start();
    await successor.awaitTermination();
    release();
    await expect.poll(() => stops).toEqual([{ task: 1, reason: 'fenced' }]);
    expect(zombie.tasks).toEqual([0]);
    expect(zombie.status).toBe('active');
    await zombie.stop();
    // Task 0 (zombie) and task 1 (successor) together: each record of partitions 0 and 1 once.
    expect(committed(world)).toEqual(everything(world).filter((r) => r.startsWith('p0') || r.startsWith('p1')));
    expect(world.sink.mismatches).toEqual([]);
  });

  it('two members told they own the same task fence each other without stopping; the one still assigned it runs it again', async () => {
    const world = newWorld();
    const [one, two] = [handCoordinator(), handCoordinator()];
    one.assign([1]);
    two.assign([1]);
    // Live members (no stopWhenIdle), as during a rebalance where both still believe they own task 1.
    const a = member(world, one, { stopWhenIdle: false, refenceDelayMs: 20 });
    const b = member(world, two, { stopWhenIdle: false, refenceDelayMs: 20 });
    await a.start();
    await b.start(); // takes task 1's epoch: a's task is fenced at its next write, and a stays up
    expect(a.status).toBe('active');
    two.assign([]); // the coordinator settles: the task is a's alone
    const mine = everything(world).filter((r) => r.startsWith('p1'));
    await expect.poll(() => committed(world), { timeout: 10_000 }).toEqual(mine);
    expect(a.tasks).toEqual([1]);
    expect(b.tasks).toEqual([]);
    await Promise.all([a.stop(), b.stop()]);
    expect(committed(world)).toEqual(mine);
    expect(world.sink.mismatches).toEqual([]);
  });

  it('a task fenced while it starts (another member took its epoch meanwhile) stops there alone; the member stays up', async () => {
    const world = newWorld();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let opening!: () => void;
    const isOpening = new Promise<void>((resolve) => (opening = resolve));
    const store = createMemoryCheckpointStore({ data: world.store });
    const stops: string[] = [];
    const a = new StreamingGroup({
      appId: world.appId,
      coordinator: createStaticCoordinator({ member: 0, members: 1, tasks: 1 }),
      logger: silentLogger,
      stopOnSignals: false,
      refenceDelayMs: 60_000, // no restart within this test: the newest assignment still names the task
      context: { batchIntervalMs: 1000, checkpoint: store, clock: createVirtualClock(START), stopWhenIdle: true },
      build: (ssc) => {
        ssc.source(createMemoryLogSource(world.log, { name: 'events' })).foreachBatch(() => {}, { name: 'out' });
        // A sink that claims its output at open, as sink-postgres does: stalled until released.
        const sink = createMemoryTransactionalSink<unknown>({ name: 'claims' });
        ssc.source(createMemoryLogSource(new MemoryLog<string>(1), { name: 'other' })).to({
          ...sink,
          async open(context) {
            opening();
            await gate;
            const current = await store.currentEpoch(context.appId);
            if (context.epoch < current) throw new FencedError('claimed by a newer epoch', { epoch: context.epoch, currentEpoch: current });
          },
        });
      },
    });
    a.addListener({ onTaskStopped: (e) => void stops.push(e.reason) });
    const started = a.start();
    await isOpening;
    await store.acquireEpoch(taskAppId(world.appId, 0)); // another member takes task 0
    release();
    await started;
    expect(stops).toEqual(['fenced']);
    expect(a.status).toBe('active');
    expect(a.tasks).toEqual([]);
    await a.stop();
  });

  it('a stop asked for while the member is still joining is a clean stop, not a failure', async () => {
    const world = newWorld();
    let giveUp!: (error: unknown) => void;
    // A coordinator still waiting for its first assignment; stopping it makes start give up, as the Kafka one does.
    const joining: Coordinator = {
      kind: 'joining',
      start: () => new Promise<void>((_resolve, reject) => (giveUp = reject)),
      async stop() {
        giveUp(new MicrobatchError('STOPPED', 'stopped before it joined the group'));
      },
    };
    const m = member(world, joining);
    const started = m.start();
    await m.stop();
    await expect(started).resolves.toBeUndefined();
    await expect(m.awaitTermination()).resolves.toBeUndefined();
    expect(m.status).toBe('stopped');
  });

  it('a program that shuffles is refused unless shufflesWithinTask acknowledges that shuffles see one task', async () => {
    const world = newWorld();
    const everyTask = () => createStaticCoordinator({ member: 0, members: 1, tasks: PARTITIONS });
    const refused = member(world, everyTask(), { shuffle: true, shufflesWithinTask: false });
    await expect(refused.start()).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'shufflesWithinTask', value: ['reduceByKey'] } });
    expect(world.sink.committed.size).toBe(0);
    const acknowledged = member(world, everyTask(), { shuffle: true });
    await acknowledged.start();
    await acknowledged.awaitTermination();
    expect(committed(world)).toEqual(everything(world));
  });
});

describe('moving between a single process and a group', () => {
  const single = async (world: World) => {
    const ssc = testContext({ appId: world.appId, checkpoint: createMemoryCheckpointStore({ data: world.store }), maxRecordsPerPartition: 2 });
    ssc.source(createMemoryLogSource(world.log, { name: 'events' })).map((r) => r.value).to(createMemoryTransactionalSink({ name: 'out', data: world.sink }));
    await ssc.start();
    await ssc.awaitTermination();
  };

  it('single-process checkpoints fail a group start with CHECKPOINT_LAYOUT_MISMATCH; migrateFromSingleProcess moves them on', async () => {
    const world = newWorld();
    await single(world);
    for (let p = 0; p < PARTITIONS; p++) world.log.append(p, `p${p}-late`);
    const refused = member(world, createStaticCoordinator({ member: 0, members: 1, tasks: PARTITIONS }));
    await expect(refused.start()).rejects.toMatchObject({ code: 'CHECKPOINT_LAYOUT_MISMATCH', details: { appId: world.appId, task: 0 } });

    const migrating = member(world, createStaticCoordinator({ member: 0, members: 1, tasks: PARTITIONS }), { migrateFromSingleProcess: true });
    await migrating.start();
    await migrating.awaitTermination();
    // Every record once: the old ones by the single process, the late ones by the tasks.
    expect(committed(world)).toEqual([...everything(world), ...Array.from({ length: PARTITIONS }, (_, p) => `p${p}-late`)].sort());
  });

  it("a single process over a group's checkpoints fails with CHECKPOINT_LAYOUT_MISMATCH instead of starting from scratch", async () => {
    const world = newWorld();
    const group = member(world, createStaticCoordinator({ member: 0, members: 1, tasks: PARTITIONS }));
    await group.start();
    await group.awaitTermination();
    await expect(single(world)).rejects.toMatchObject({ code: 'CHECKPOINT_LAYOUT_MISMATCH' });
    expect(committed(world)).toEqual(everything(world));
  });
});
