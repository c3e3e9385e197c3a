// Scenario 1 (and 7's backlog drain): generator -> map -> filter -> reduceByKey -> discarding
// foreachBatch through the engine, against a hand-written loop doing the same computation over
// the same generated records, batch by batch.
import { StreamingContext, createMemoryCheckpointStore, createVirtualClock, silentLogger } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';
import { rate } from '../events.ts';

export interface EngineArgs {
  readonly partitions: number;
  readonly records: number;
  /** maxRecordsPerPartition: records per partition per batch; absent: the engine's defaults (7c). */
  readonly perBatch?: number;
}

export interface ThroughputResult {
  readonly records: number;
  readonly ms: number;
  readonly recordsPerSec: number;
  readonly batches: number;
  /** Distinct keys summed over batches: both sides must agree. */
  readonly checksum: number;
}

interface Click {
  readonly user: number;
  readonly page: number;
  readonly amount: number;
}

/** The record at (partition, offset): a cheap pure function, so generation costs both sides the same. */
export function click(partition: number, offset: number): Click {
  let h = Math.imul(partition + 1, 0x9e3779b1) ^ Math.imul(offset + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35);
  h ^= h >>> 13;
  return { user: (h >>> 0) % 10_000, page: (h >>> 8) % 50, amount: (h >>> 0) % 1000 };
}
const toPair = (c: Click): [string, number] => [`user-${c.user}`, c.amount];
const keep = (pair: [string, number]) => pair[1] % 4 !== 0;
const add = (a: number, b: number) => a + b;

const perPartition = (args: EngineArgs) => Math.ceil(args.records / args.partitions);
const inPartition = (args: EngineArgs, p: number) => Math.max(0, Math.min(perPartition(args), args.records - p * perPartition(args)));

const clicks = (args: EngineArgs) =>
  createGeneratorSource({ name: 'clicks', partitions: args.partitions, recordsPerPartition: (p) => inPartition(args, p), generate: ({ partition, offset }) => click(partition, offset) });

async function engine(args: EngineArgs): Promise<ThroughputResult> {
  const ssc = new StreamingContext({
    appId: 'bench-engine',
    batchIntervalMs: 1000,
    checkpoint: createMemoryCheckpointStore(),
    clock: createVirtualClock(1_000_000),
    ...(args.perBatch === undefined ? {} : { maxRecordsPerPartition: args.perBatch }),
    stopWhenIdle: true,
    stopOnSignals: false,
    logger: silentLogger,
  });
  let batches = 0;
  let checksum = 0;
  let records = 0;
  ssc
    .source(clicks(args))
    .map(toPair)
    .filter(keep)
    .reduceByKey(add)
    .foreachBatch(
      async (batch) => {
        await batch.foreachPartition(async (sums) => {
          checksum += sums.length;
        });
      },
      { name: 'discard' },
    );
  ssc.addListener({
    onBatchCompleted: (info) => {
      if (info.numRecords > 0) batches++;
      records += info.numRecords;
    },
  });
  const start = performance.now();
  await ssc.start();
  await ssc.awaitTermination();
  const ms = performance.now() - start;
  return { records, ms, recordsPerSec: rate(records, ms), batches, checksum };
}

/** One record into a batch's sums, as map -> filter -> reduceByKey does in the engine. */
function tally(sums: Map<string, number>, c: Click): void {
  const pair = toPair(c);
  if (!keep(pair)) return;
  sums.set(pair[0], add(sums.get(pair[0]) ?? 0, pair[1]));
}

/** The hand-written side: per batch one Map, filled partition by partition by `fill`, timed as a whole. */
async function handWritten(
  args: EngineArgs,
  fill: (sums: Map<string, number>, partition: number, from: number, until: number) => void | Promise<void>,
): Promise<ThroughputResult> {
  const start = performance.now();
  let batches = 0;
  let checksum = 0;
  let records = 0;
  const step = args.perBatch ?? perPartition(args);
  for (let from = 0; from < perPartition(args); from += step) {
    const sums = new Map<string, number>();
    for (let p = 0; p < args.partitions; p++) {
      const until = Math.min(from + step, inPartition(args, p));
      if (until <= from) continue;
      await fill(sums, p, from, until);
      records += until - from;
    }
    checksum += sums.size;
    batches++;
    // Like the engine, yield to the event loop between batches.
    await new Promise((r) => setImmediate(r));
  }
  const ms = performance.now() - start;
  return { records, ms, recordsPerSec: rate(records, ms), batches, checksum };
}

/** The same computation written by hand over the same generated records: no array, no engine. */
const loop = (args: EngineArgs) =>
  handWritten(args, (sums, p, from, until) => {
    for (let offset = from; offset < until; offset++) tally(sums, click(p, offset));
  });

/**
 * The hand-written loop taking its input the way the engine must: each partition's records as the
 * array `Source.read` returns (the generator source the engine reads), one partition at a time.
 * It measures what that input contract costs before any engine code runs.
 */
function loopOverReads(args: EngineArgs): Promise<ThroughputResult> {
  const source = clicks(args);
  return handWritten(args, async (sums, p, from, until) => {
    for (const record of await source.read({ source: source.name, partition: String(p), from, until }, readContext)) tally(sums, record);
  });
}

const readContext = { appId: 'bench-loop', batchTime: 0, attempt: 1, signal: new AbortController().signal, logger: silentLogger };

export const engineTasks = { engine, loop, 'loop-over-reads': loopOverReads };
