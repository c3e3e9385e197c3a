import { describe, expect, it } from 'vitest';
import { createMemoryLogSource, createQueueSource, type MemoryLog } from '@microbatch/source-memory';
import {
  PROTOCOL_CRASH_POINTS,
  createCrashSwitch,
  createMemorySinkData,
  createMemoryTransactionalSink,
  parseMarker,
  type CrashSwitch,
  type MemorySinkData,
} from '@microbatch/testkit';
import {
  createMemoryCheckpointData,
  createMemoryCheckpointStore,
  isMicrobatchError,
  stateSpec,
  type DStream,
  type MemoryCheckpointData,
  type StateCodec,
  type StreamingContext,
} from '../src/index.js';
import { START, logOf, testContext, uniqueAppId } from './helpers.js';

async function perBatch<T, U>(batches: T[][], build: (s: DStream<T>) => DStream<U>): Promise<U[][]> {
  const ssc = testContext();
  const queue = createQueueSource<T>({ name: 'queue' });
  for (const b of batches) queue.push(b);
  const out: U[][] = [];
  build(ssc.source(queue)).foreachBatch(async (batch) => void out.push(await batch.collect()));
  await ssc.start();
  await ssc.awaitTermination();
  return out;
}

const pairs = (s: DStream<string>) => s.map((w): [string, number] => [w, 1]);

describe('updateStateByKey', () => {
  it('keeps running totals, calls update for idle keys, removes keys that return undefined', async () => {
    const out = await perBatch([['a', 'b', 'a'], ['a'], ['c'], []], (s) =>
      pairs(s).updateStateByKey<string, number, number>((values, total) => {
        const next = (total ?? 0) + values.length;
        return next >= 4 ? undefined : next; // a key that reaches 4 is forgotten
      }, { name: 'totals' }),
    );
    expect(out.map((b) => new Map(b))).toEqual([
      new Map([['a', 2], ['b', 1]]),
      new Map([['a', 3], ['b', 1]]),
      new Map([['a', 3], ['b', 1], ['c', 1]]),
      new Map([['a', 3], ['b', 1], ['c', 1]]),
      new Map([['a', 3], ['b', 1], ['c', 1]]),
    ]);
  });

  it('starts from initialState', async () => {
    const out = await perBatch([['a']], (s) =>
      pairs(s).updateStateByKey<string, number, number>((v, t) => (t ?? 0) + v.length, { name: 'totals', initialState: [['a', 10]] }),
    );
    expect(out[0]).toEqual([['a', 11]]);
  });
});

describe('mapWithState', () => {
  it('maps with per-key state, times idle keys out once, and exposes stateSnapshots()', async () => {
    const snapshots: Array<Map<string, number>> = [];
    const out = await perBatch([['u1', 'u2'], ['u1'], [], [], []], (s) => {
      const mapped = pairs(s).mapWithState(
        stateSpec<string, number, number, string>('sessions', (user, one, state) => {
          if (state.isTimingOut()) return `${user} ended after ${state.get()}`;
          const count = (state.exists() ? state.get() : 0) + (one ?? 0);
          state.update(count);
          return `${user}:${count}`;
        }).timeout(2000),
      );
      mapped.stateSnapshots().foreachBatch(async (b) => void snapshots.push(new Map(await b.collect())), { name: 'snap' });
      return mapped;
    });
    // u2 was last seen at t=0 and times out at t=2000; u1, last seen at t=1000, at t=3000.
    expect(out.map((b) => [...b].sort())).toEqual([['u1:1', 'u2:1'], ['u1:2'], ['u2 ended after 1'], ['u1 ended after 2'], [], []]);
    expect(out.flat().filter((s) => s.includes('ended'))).toHaveLength(2);
    expect(snapshots[1]).toEqual(new Map([['u1', 2], ['u2', 1]]));
    expect(snapshots[3]).toEqual(new Map());
  });

  it('keys loaded from initialState time out like any other key, counted from the first batch', async () => {
    const out = await perBatch([['u1'], [], [], []], (s) =>
      pairs(s).mapWithState(
        stateSpec<string, number, number, string>('sessions', (user, one, state) => {
          if (state.isTimingOut()) return `${user} ended after ${state.get()}`;
          const count = (state.exists() ? state.get() : 0) + (one ?? 0);
          state.update(count);
          return `${user}:${count}`;
        })
          .timeout(2000)
          .initialState([['old', 7]]),
      ),
    );
    // "old" never has data: idle since the first batch (t=0), it times out at t=2000 with u1 (last seen at t=0).
    expect(out.map((b) => [...b].sort())).toEqual([['u1:1'], [], ['old ended after 7', 'u1 ended after 1'], [], []]);
  });

  it('a timing-out key cannot be updated', async () => {
    const ssc = testContext({ maxBatchAttempts: 1 });
    const queue = createQueueSource<string>({ name: 'q' });
    queue.push(['k']);
    queue.push([]);
    queue.push([]);
    pairs(ssc.source(queue))
      .mapWithState(stateSpec<string, number, number, number>('s', (_k, _v, state) => (state.update(1), 1)).timeout(1000))
      .foreachBatch(async (b) => void (await b.collect()));
    await ssc.start();
    await expect(ssc.awaitTermination()).rejects.toMatchObject({ code: 'BATCH_FAILED', cause: { code: 'INVALID_OPTION' } });
  });
});

// ---- exact recovery of state ----

interface World {
  appId: string;
  log: MemoryLog<string>;
  store: MemoryCheckpointData;
  sinks: Record<string, MemorySinkData<unknown>>;
}

const newWorld = (): World => ({
  appId: uniqueAppId('state'),
  log: logOf([
    ['a', 'b', 'a', 'c', 'a', 'd', 'b', 'a'],
    ['b', 'b', 'e'],
    ['c', 'a', 'f', 'f', 'a', 'b'],
  ]),
  store: createMemoryCheckpointData(),
  sinks: { totals: createMemorySinkData(), windowed: createMemorySinkData(), incremental: createMemorySinkData(), sessions: createMemorySinkData() },
});

/** A stateful and windowed pipeline: four outputs, snapshots every 2 batches. */
function processOf(world: World, crash?: CrashSwitch): StreamingContext {
  const store = createMemoryCheckpointStore({ data: world.store, retain: 3 });
  const ssc = testContext({
    appId: world.appId,
    checkpoint: crash ? crash.wrapStore(store) : store,
    maxRecordsPerPartition: 2,
    checkpointIntervalMs: 2000,
    ...(crash ? { atProtocolPoint: crash.atProtocolPoint } : {}),
  });
  const sink = (name: string) =>
    createMemoryTransactionalSink<never>({ name, data: world.sinks[name] as MemorySinkData<never>, afterPartitionCommit: async () => crash?.point('output:partition') });
  const words = pairs(ssc.source(createMemoryLogSource(world.log, { name: 'words' })).map((r) => r.value));
  words.updateStateByKey<string, number, number>((v, t) => (t ?? 0) + v.length, { name: 'totals', numPartitions: 2 }).to(sink('totals'));
  words.reduceByKeyAndWindow((a, b) => a + b, 3000, 1000).to(sink('windowed'));
  words
    .reduceByKeyAndWindow((a, b) => a + b, 3000, 2000, { inverse: (a, b) => a - b, filter: ([, v]) => v > 0, name: 'window-counts' })
    .to(sink('incremental'));
  words
    .mapWithState(
      stateSpec<string, number, number, string>('sessions', (w, one, state) => {
        if (state.isTimingOut()) return `${w}:closed@${state.get()}`;
        state.update((state.exists() ? state.get() : 0) + (one ?? 0));
        return undefined;
      }).timeout(2000),
    )
    .to(sink('sessions'));
  return ssc;
}

async function runToEnd(world: World, observer?: CrashSwitch): Promise<void> {
  const ssc = processOf(world, observer);
  await ssc.start();
  await ssc.awaitTermination();
}

/** Committed records by `batchTime/partitionId`: comparable between worlds, whose app ids differ. */
const committedByMarker = (data: MemorySinkData<unknown>) =>
  new Map([...data.committed].map(([m, c]) => [`${parseMarker(m).batchTime}/${parseMarker(m).partitionId}`, JSON.stringify(c.records)]));

describe('stateful and windowed pipelines: a crash at every protocol step', async () => {
  const reference = newWorld();
  // An unarmed switch only counts how often the uninterrupted run reaches each point.
  const observer = createCrashSwitch();
  await runToEnd(reference, observer);
  const referenceTimes = new Set([...reference.sinks.totals!.committed.keys()].map((m) => parseMarker(m).batchTime));

  it('the reference run snapshots state and times sessions out', () => {
    const sessions = [...reference.sinks.sessions!.committed.values()].flatMap((c) => c.records as string[]);
    // a and b had data until the input ran out; the run stops before they are idle for 2 s.
    expect(sessions.sort()).toEqual(['c:closed@2', 'd:closed@1', 'e:closed@1', 'f:closed@2']);
    expect([...reference.store.blobs.get(reference.appId)!.keys()].some((k) => k.includes('state/totals/'))).toBe(true);
  });

  it('the reference run reaches every crash point, so every case below really crashes', () => {
    for (const point of PROTOCOL_CRASH_POINTS) expect(observer.reached.get(point) ?? 0, point).toBeGreaterThan(0);
  });

  for (const point of PROTOCOL_CRASH_POINTS) {
    // The first, second and last time the point is reached, and one in between: never an nth the run cannot reach.
    const times = observer.reached.get(point) ?? 0;
    const nths = [...new Set([1, 2, Math.ceil(times / 2), times])].filter((n) => n >= 1 && n <= times);
    for (const nth of nths) {
      it(`crash at ${point} (#${nth} of ${times}): every output equals the uninterrupted run`, async () => {
        const world = newWorld();
        const crash = createCrashSwitch();
        crash.arm(point, nth);
        const doomed = processOf(world, crash);
        await doomed.start();
        const outcome = await Promise.race([crash.crashed.then(() => 'crashed'), doomed.awaitTermination().then(() => 'finished')]);
        expect(outcome).toBe('crashed');
        await runToEnd(world);
        for (const name of Object.keys(world.sinks)) {
          const got = committedByMarker(world.sinks[name]!);
          const want = committedByMarker(reference.sinks[name]!);
          expect(world.sinks[name]!.mismatches, name).toEqual([]);
          // Same batch times as the reference; a restart may only add idle batches after its end.
          const comparable = new Map([...got].filter(([m]) => referenceTimes.has(Number(m.split('/')[0]))));
          expect(comparable, name).toEqual(want);
          for (const [marker] of got) if (!want.has(marker)) expect(Number(marker.split('/')[0])).toBeGreaterThan(Math.max(...referenceTimes));
        }
      });
    }
  }
});

describe('state transactions', () => {
  it('setting a key to the value it holds stages nothing; other changes apply on commit only', async () => {
    const { StateStore } = await import('../src/state/state-store.js');
    const store = new StateStore<string, number>();
    store.set('a', 1);
    const encoded: string[] = [];
    const tx = store.begin((key) => encoded.push(key));
    tx.set('a', 1);
    tx.set('b', 2);
    tx.delete('a');
    tx.set('a', 3);
    expect(encoded).toEqual(['b', 'a']);
    expect([...store.entries()]).toEqual([['a', 1]]);
    tx.commit();
    expect(new Map(store.entries())).toEqual(new Map([['a', 3], ['b', 2]]));
  });
});

describe('state snapshots', () => {
  it('old snapshots are deleted once no retained checkpoint references them', async () => {
    const world = newWorld();
    await runToEnd(world);
    const store = createMemoryCheckpointStore({ data: world.store, retain: 3 });
    const referenced = new Set<string>();
    for (const name of await store.list(world.appId)) for (const key of (await store.read(world.appId, name)).blobs) referenced.add(key);
    const blobs = await store.listBlobs(world.appId);
    expect(blobs.length).toBeGreaterThan(0);
    expect(new Set(blobs)).toEqual(referenced);
  });

  it('a value the default JSON codec cannot hold fails the batch with STATE_ENCODE_FAILED', async () => {
    const ssc = testContext({ maxBatchAttempts: 2 });
    const queue = createQueueSource<string>({ name: 'q' });
    queue.push(['a']);
    pairs(ssc.source(queue))
      .updateStateByKey<string, number, Map<string, number>>((v, s) => new Map([...(s ?? []), ['n', v.length]]), { name: 'maps' })
      .foreachBatch(() => {});
    await ssc.start();
    const error = await ssc.awaitTermination().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'BATCH_FAILED', cause: { code: 'STATE_ENCODE_FAILED', details: { operator: 'maps', key: 'a' } } });
  });

  it('a user codec carries Maps and BigInts through a snapshot and a restart', async () => {
    const codec: StateCodec = {
      encode: (v) => JSON.stringify(v, (_k, x) => (x instanceof Map ? { $map: [...x] } : typeof x === 'bigint' ? { $big: String(x) } : x)),
      decode: (t) => JSON.parse(t, (_k, x) => (x && x.$map ? new Map(x.$map) : x && x.$big ? BigInt(x.$big) : x)),
    };
    const appId = uniqueAppId('codec');
    const data = createMemoryCheckpointData();
    const log = logOf([['a', 'b', 'a']]);
    const run = async () => {
      const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), maxRecordsPerPartition: 1, checkpointIntervalMs: 1000 });
      const seen: Array<[string, Map<string, bigint>]> = [];
      pairs(ssc.source(createMemoryLogSource(log, { name: 'w' })).map((r) => r.value))
        .updateStateByKey<string, number, Map<string, bigint>>((v, s) => new Map([['n', (s?.get('n') ?? 0n) + BigInt(v.length)]]), { name: 'big', codec })
        .foreachBatch(async (b) => void seen.push(...(await b.collect())), { name: 'out' });
      await ssc.start();
      await ssc.awaitTermination();
      return seen;
    };
    await run();
    log.append(0, 'a');
    const after = await run();
    expect(new Map(after.slice(-2))).toEqual(new Map([['a', new Map([['n', 3n]])], ['b', new Map([['n', 1n]])]]));
  });

  it('snapshots stream in bounded chunks', async () => {
    const { UpdateStateByKey } = await import('../src/state/update-state-by-key.js');
    const op = new UpdateStateByKey<string, number, number>(() => undefined, (v) => v.length, { name: 'big' });
    (op as unknown as { store: { set(k: string, v: number): void } }).store.set('x', 1);
    for (let i = 0; i < 100_000; i++) (op as unknown as { store: { set(k: string, v: number): void } }).store.set(`key-${i}`, i);
    const sizes: number[] = [];
    for await (const chunk of op.snapshot(START)) sizes.push(chunk.length);
    expect(sizes.length).toBeGreaterThan(5);
    expect(Math.max(...sizes)).toBeLessThan(300 * 1024);
    const restored = new UpdateStateByKey<string, number, number>(() => undefined, (v) => v.length, { name: 'big' });
    await restored.restore(op.snapshot(START), START, 'test');
    expect((restored as unknown as { store: { size: number } }).store.size).toBe(100_001);
  });

  it('a truncated snapshot is CHECKPOINT_CORRUPT', async () => {
    const { UpdateStateByKey } = await import('../src/state/update-state-by-key.js');
    const op = new UpdateStateByKey<string, number, number>(() => undefined, (v) => v.length, { name: 'op' });
    (op as unknown as { store: { set(k: string, v: number): void } }).store.set('x', 1);
    const chunks: Uint8Array[] = [];
    for await (const c of op.snapshot(START)) chunks.push(c);
    const whole = Buffer.concat(chunks);
    const truncated = (async function* () {
      yield whole.subarray(0, whole.length - 3);
    })();
    await expect(op.restore(truncated, START, 'test')).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT' });
  });
});

describe('program changes and stateful operators', () => {
  const program = (appId: string, data: MemoryCheckpointData, log: MemoryLog<string>, names: string[], reset: string[] = []) => {
    const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), checkpointIntervalMs: 1000, resetStreams: reset });
    const words = pairs(ssc.source(createMemoryLogSource(log, { name: 'w' })).map((r) => r.value));
    const out: Record<string, Map<string, number>> = {};
    for (const name of names) {
      words.updateStateByKey<string, number, number>((v, t) => (t ?? 0) + v.length, { name }).foreachBatch(async (b) => void (out[name] = new Map(await b.collect())), { name: `out-${name}` });
    }
    return { ssc, out };
  };

  it('a renamed operator gives GRAPH_MISMATCH; resetting it lets the others recover their state', async () => {
    const appId = uniqueAppId('opchange');
    const data = createMemoryCheckpointData();
    const log = logOf([['a', 'a', 'b']]);
    const first = program(appId, data, log, ['totals', 'other']);
    await first.ssc.start();
    await first.ssc.awaitTermination();
    expect(first.out.totals).toEqual(new Map([['a', 2], ['b', 1]]));

    log.append(0, 'a');
    const renamed = program(appId, data, log, ['totals', 'other-v2']);
    const error = await renamed.ssc.start().then(() => undefined, (e: unknown) => e);
    expect(isMicrobatchError(error, 'GRAPH_MISMATCH')).toBe(true);
    expect(error).toMatchObject({ details: { missingFromProgram: ['other'], missingFromCheckpoint: ['other-v2'] } });

    const reset = program(appId, data, log, ['totals', 'other-v2'], ['other', 'other-v2']);
    await reset.ssc.start();
    await reset.ssc.awaitTermination();
    expect(reset.out.totals).toEqual(new Map([['a', 3], ['b', 1]])); // recovered
    expect(reset.out['other-v2']).toEqual(new Map([['a', 1]])); // fresh
  });

  it('a new operator is allowed: the old one recovers its state, the new one starts from its initial state', async () => {
    const appId = uniqueAppId('opadded');
    const data = createMemoryCheckpointData();
    const log = logOf([['a', 'a', 'b']]);
    const first = program(appId, data, log, ['totals']);
    await first.ssc.start();
    await first.ssc.awaitTermination();

    log.append(0, 'a');
    const grown = program(appId, data, log, ['totals', 'added']);
    await grown.ssc.start();
    await grown.ssc.awaitTermination();
    expect(grown.out.totals).toEqual(new Map([['a', 3], ['b', 1]])); // recovered
    expect(grown.out.added).toEqual(new Map([['a', 1]])); // sees only the batches after the snapshot
  });
});
