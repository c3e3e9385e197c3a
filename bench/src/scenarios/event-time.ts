// Scenario 9: 1-minute tumbling event-time windows over 10k keys (withWatermark ->
// reduceByKeyAndEventWindow, final mode) against plain reduceByKey over the same generated records,
// both through the engine, batch by batch. Reports throughput and the peak state (open windows).
import { StreamingContext, createMemoryCheckpointStore, createVirtualClock, silentLogger, type DStream } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';
import { rate } from '../events.ts';

export interface EventTimeArgs {
  readonly partitions: number;
  readonly records: number;
  readonly perBatch: number;
  readonly keys: number;
  /** Event time the input spans, spread evenly over each partition's offsets (ordered). */
  readonly spanMs: number;
}

export interface EventTimeResult {
  readonly records: number;
  readonly ms: number;
  readonly recordsPerSec: number;
  readonly batches: number;
  /** Results written: windows closed (event time) or per-batch sums (reduceByKey). */
  readonly outputs: number;
  /** Sum of the output values: the event-time side's closed windows hold at most all records. */
  readonly total: number;
  /** Largest number of open windows (window x key) after a batch; 0 for reduceByKey. */
  readonly peakOpenWindows: number;
  /** CPU time (user + system) of the run: on a loaded shared machine it drifts less than wall time. */
  readonly cpuMs: number;
}

interface View {
  readonly key: string;
  readonly ts: number;
}

const START = 1_800_000_000_000;
const perPartition = (a: EventTimeArgs) => Math.ceil(a.records / a.partitions);
const inPartition = (a: EventTimeArgs, p: number) => Math.max(0, Math.min(perPartition(a), a.records - p * perPartition(a)));

function view(a: EventTimeArgs, partition: number, offset: number): View {
  let h = Math.imul(partition + 1, 0x9e3779b1) ^ Math.imul(offset + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35);
  return { key: `page-${(h >>> 0) % a.keys}`, ts: START + Math.floor((offset * a.spanMs) / perPartition(a)) };
}

async function measure(a: EventTimeArgs, build: (views: DStream<View>) => { out: DStream<number>; openWindows: () => number }): Promise<EventTimeResult> {
  const ssc = new StreamingContext({
    appId: 'bench-event-time',
    batchIntervalMs: 1000,
    checkpoint: createMemoryCheckpointStore(),
    clock: createVirtualClock(1_000_000),
    maxRecordsPerPartition: a.perBatch,
    stopWhenIdle: true,
    stopOnSignals: false,
    logger: silentLogger,
  });
  const views = ssc.source(
    createGeneratorSource({ name: 'views', partitions: a.partitions, recordsPerPartition: (p) => inPartition(a, p), generate: ({ partition, offset }) => view(a, partition, offset) }),
  );
  const { out, openWindows } = build(views);
  let outputs = 0;
  let total = 0;
  let peakOpenWindows = 0;
  out.foreachBatch(
    async (batch) => {
      await batch.foreachPartition(async (values) => {
        outputs += values.length;
        for (const v of values) total += v;
      });
    },
    { name: 'discard' },
  );
  let batches = 0;
  let records = 0;
  ssc.addListener({
    onBatchCompleted: (info) => {
      if (info.numRecords > 0) batches++;
      records += info.numRecords;
      peakOpenWindows = Math.max(peakOpenWindows, openWindows());
    },
  });
  const start = performance.now();
  const cpu = process.cpuUsage();
  await ssc.start();
  await ssc.awaitTermination();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  return { records, ms, recordsPerSec: rate(records, ms), batches, outputs, total, peakOpenWindows, cpuMs: (used.user + used.system) / 1000 };
}

const add = (x: number, y: number) => x + y;

const eventWindows = (a: EventTimeArgs) =>
  measure(a, (views) => {
    const windows = views
      .withWatermark((v) => v.ts, { delayMs: 10_000 })
      .map((v): [string, number] => [v.key, 1])
      .reduceByKeyAndEventWindow(add, 60_000, undefined, { name: 'per-minute' });
    return { out: windows.map((w) => w.value), openWindows: () => windows.progress.openWindows };
  });

const reduceByKey = (a: EventTimeArgs) =>
  measure(a, (views) => ({
    out: views.map((v): [string, number] => [v.key, 1]).reduceByKey(add).map(([, n]) => n),
    openWindows: () => 0,
  }));

export const eventTimeTasks = { 'event-windows': eventWindows, 'event-reduce-by-key': reduceByKey };
