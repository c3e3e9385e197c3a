import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryLogSource, type MemoryLog } from '@microbatch/source-memory';
import {
  PROTOCOL_CRASH_POINTS,
  createCrashSwitch,
  createMemorySinkData,
  createMemoryTransactionalSink,
  parseMarker,
  type CrashSwitch,
  type MemorySinkData,
} from '@microbatch/testkit';
import { createMemoryCheckpointData, createMemoryCheckpointStore, type MemoryCheckpointData } from '../src/index.js';
import { logOf, testContext, uniqueAppId } from './helpers.js';

type Event = readonly [key: number, ts: number];

interface Scenario {
  /** Per partition, events in log order: event times drawn at random, so many arrive late. */
  data: Event[][];
  delayMs: number;
  idleAfterBatches: number;
  window: { kind: 'tumbling'; size: number } | { kind: 'sliding'; size: number; slide: number } | { kind: 'session'; gap: number };
  outputMode: 'final' | 'update';
  cap: number;
}

function run(scenario: Scenario, log: MemoryLog<Event>, appId: string, store: MemoryCheckpointData, sinks: Sinks, busy: Set<number>, crash?: CrashSwitch) {
  const base = createMemoryCheckpointStore({ data: store });
  const ssc = testContext({
    appId,
    checkpoint: crash ? crash.wrapStore(base) : base,
    maxRecordsPerPartition: scenario.cap,
    // Snapshots every other batch, so restarts restore windows and the watermark from a snapshot and from the log.
    checkpointIntervalMs: 2000,
    ...(crash ? { atProtocolPoint: crash.atProtocolPoint } : {}),
  });
  ssc.addListener({ onBatchCompleted: (info) => void busy.add(info.batchTime) });
  const timed = ssc
    .source(createMemoryLogSource(log, { name: 'events' }))
    .map((r) => r.value)
    .withWatermark(([, ts]) => ts, { delayMs: scenario.delayMs, idleAfterBatches: scenario.idleAfterBatches })
    .map(([key]): [number, number] => [key, 1]);
  const sum = (a: number, b: number) => a + b;
  const options = { name: 'windows', outputMode: scenario.outputMode };
  const { window: w } = scenario;
  const windows =
    w.kind === 'session'
      ? timed.reduceByKeyAndSessionWindow(sum, w.gap, options)
      : timed.reduceByKeyAndEventWindow(sum, w.size, w.kind === 'sliding' ? w.slide : undefined, options);
  const point = async () => crash?.point('output:partition');
  windows.to(createMemoryTransactionalSink({ name: 'windows', data: sinks.windows, afterPartitionCommit: point }));
  windows.late().to(createMemoryTransactionalSink({ name: 'late', data: sinks.late, afterPartitionCommit: point }));
  return ssc;
}

interface Sinks {
  windows: MemorySinkData<unknown>;
  late: MemorySinkData<unknown>;
}
const newSinks = (): Sinks => ({ windows: createMemorySinkData(), late: createMemorySinkData() });

/** Committed records per (batch time, partition), restricted to the batch times of the reference run. */
const committed = (sink: MemorySinkData<unknown>, times: Set<number>) =>
  new Map(
    [...sink.committed.entries()]
      .map(([marker, c]) => [parseMarker(marker), c] as const)
      .filter(([m]) => times.has(m.batchTime))
      .map(([m, c]) => [`${m.batchTime}/${m.partitionId}`, JSON.stringify(c.records)]),
  );

const scenarios = fc.record({
  data: fc.array(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 60_000 })), { maxLength: 12 }), { minLength: 1, maxLength: 3 }),
  delayMs: fc.integer({ min: 0, max: 20_000 }),
  idleAfterBatches: fc.integer({ min: 1, max: 3 }),
  window: fc.oneof(
    fc.record({ kind: fc.constant('tumbling' as const), size: fc.integer({ min: 1000, max: 20_000 }) }),
    fc.integer({ min: 1000, max: 10_000 }).chain((slide) =>
      fc.record({ kind: fc.constant('sliding' as const), slide: fc.constant(slide), size: fc.integer({ min: slide, max: 3 * slide }) }),
    ),
    fc.record({ kind: fc.constant('session' as const), gap: fc.integer({ min: 500, max: 10_000 }) }),
  ),
  outputMode: fc.constantFrom('final' as const, 'update' as const),
  cap: fc.integer({ min: 1, max: 4 }),
});

describe('property: event-time windows under crashes', () => {
  it('windows and late records after a crash anywhere and a restart equal an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(scenarios, fc.constantFrom(...PROTOCOL_CRASH_POINTS), fc.integer({ min: 1, max: 6 }), async (scenario, point, nth) => {
        const reference = newSinks();
        const referenceBusy = new Set<number>();
        const refSsc = run(scenario, logOf(scenario.data), uniqueAppId('et-ref'), createMemoryCheckpointData(), reference, referenceBusy);
        await refSsc.start();
        await refSsc.awaitTermination();

        const appId = uniqueAppId('et-prop');
        const log = logOf(scenario.data);
        const store = createMemoryCheckpointData();
        const sinks = newSinks();
        const crash = createCrashSwitch();
        crash.arm(point, nth);
        const busy = new Set<number>();
        const doomed = run(scenario, log, appId, store, sinks, busy, crash);
        await doomed.start();
        await Promise.race([crash.crashed, doomed.awaitTermination()]);
        fc.pre(crash.hasCrashed);
        const restarted = run(scenario, log, appId, store, sinks, busy);
        await restarted.start();
        await restarted.awaitTermination();

        expect(sinks.windows.mismatches).toEqual([]);
        expect(sinks.late.mismatches).toEqual([]);
        expect(committed(sinks.windows, referenceBusy)).toEqual(committed(reference.windows, referenceBusy));
        expect(committed(sinks.late, referenceBusy)).toEqual(committed(reference.late, referenceBusy));
      }),
      { numRuns: 150 },
    );
  });
});
