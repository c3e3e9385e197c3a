import fc from 'fast-check';
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
import { createMemoryCheckpointData, createMemoryCheckpointStore, type DStream, type MemoryCheckpointData } from '../src/index.js';
import { logOf, multiset, testContext, uniqueAppId } from './helpers.js';

/** Operators with number in and number out, so any chain of them is a valid pipeline. */
const operators: Record<string, (s: DStream<number>) => DStream<number>> = {
  double: (s) => s.map((x) => x * 2),
  evens: (s) => s.filter((x) => x % 2 === 0),
  duplicate: (s) => s.flatMap((x) => [x, x + 1]),
  sumByMod3: (s) => s.map((x): [number, number] => [x % 3, x]).reduceByKey((a, b) => a + b).map(([k, v]) => k * 100_000 + v),
  countByValueMod4: (s) => s.map((x) => x % 4).countByValue().map(([k, c]) => k * 1000 + c),
  groupSizes: (s) => s.map((x): [number, number] => [x % 2, x]).groupByKey(3).map(([k, vs]) => vs.length * 10 + k),
  selfJoin: (s) => {
    const keyed = s.map((x): [number, number] => [x % 5, x]);
    return keyed.join(keyed.mapValues((v) => v * 3)).map(([, [a, b]]) => a + b);
  },
  unionShifted: (s) => s.union(s.map((x) => x + 1000)),
  repartition2: (s) => s.repartition(2),
  count: (s) => s.count(),
  mapPartitionsSum: (s) => s.mapPartitions((records) => [records.reduce((a, b) => a + b, 0)]),
};

interface Scenario {
  chain: string[];
  data: number[][];
  cap: number;
}

/**
 * Batch times that read input. Operators like count() also emit for empty batches, and a restart
 * legitimately runs more empty batches (new batch times) than an uninterrupted run, so only the
 * outputs of batches with input are compared.
 */
type BusyTimes = Set<number>;

function run(
  scenario: Scenario,
  log: MemoryLog<number>,
  appId: string,
  store: MemoryCheckpointData,
  sink: MemorySinkData<number>,
  busy: BusyTimes,
  crash?: CrashSwitch,
) {
  const base = createMemoryCheckpointStore({ data: store });
  const ssc = testContext({
    appId,
    checkpoint: crash ? crash.wrapStore(base) : base,
    maxRecordsPerPartition: scenario.cap,
    ...(crash ? { atProtocolPoint: crash.atProtocolPoint } : {}),
  });
  ssc.addListener({ onBatchCompleted: (info) => info.numRecords > 0 && busy.add(info.batchTime) });
  let stream = ssc.source(createMemoryLogSource(log, { name: 'numbers' })).map((r) => r.value);
  for (const name of scenario.chain) stream = operators[name]!(stream);
  stream.to(createMemoryTransactionalSink({ name: 'out', data: sink, afterPartitionCommit: async () => crash?.point('output:partition') }));
  return ssc;
}

const committed = (sink: MemorySinkData<number>, busy: BusyTimes) =>
  multiset([...sink.committed.entries()].filter(([marker]) => busy.has(Number(marker.split('/')[0]))).flatMap(([, c]) => c.records));

describe('property: crash anywhere, restart, and the output equals an uninterrupted run', () => {
  it('holds for random operator chains, data and crash points', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          chain: fc.array(fc.constantFrom(...Object.keys(operators)), { minLength: 1, maxLength: 4 }),
          data: fc.array(fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 10 }), { minLength: 1, maxLength: 4 }),
          cap: fc.integer({ min: 1, max: 4 }),
        }),
        fc.constantFrom(...PROTOCOL_CRASH_POINTS),
        fc.integer({ min: 1, max: 4 }),
        async (scenario, point, nth) => {
          const reference = createMemorySinkData<number>();
          const referenceBusy: BusyTimes = new Set();
          const refSsc = run(scenario, logOf(scenario.data), uniqueAppId('ref'), createMemoryCheckpointData(), reference, referenceBusy);
          await refSsc.start();
          await refSsc.awaitTermination();

          const appId = uniqueAppId('prop');
          const log = logOf(scenario.data);
          const store = createMemoryCheckpointData();
          const sink = createMemorySinkData<number>();
          const crash = createCrashSwitch();
          crash.arm(point, nth);
          const busy: BusyTimes = new Set();
          const doomed = run(scenario, log, appId, store, sink, busy, crash);
          await doomed.start();
          await Promise.race([crash.crashed, doomed.awaitTermination()]);
          const restarted = run(scenario, log, appId, store, sink, busy);
          await restarted.start();
          await restarted.awaitTermination();

          expect(sink.mismatches).toEqual([]);
          expect(committed(sink, busy)).toEqual(committed(reference, referenceBusy));
        },
      ),
      { numRuns: 150 },
    );
  });
});
