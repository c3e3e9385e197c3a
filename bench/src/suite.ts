// The parent side of every scenario: runs each measured side in its own child process (harness.ts),
// project and baseline in the same run, and turns the figures into ratios against the issue's targets.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { percentile } from './events.ts';
import { runChild, type ChildResult } from './harness.ts';
import type { ScenarioResult } from './report.ts';
import type { StoreResult } from './scenarios/checkpoints.ts';
import type { PipelineResult } from './scenarios/end-to-end.ts';
import type { ThroughputResult } from './scenarios/engine.ts';
import type { EventTimeResult } from './scenarios/event-time.ts';
import type { PerBatchResult } from './scenarios/scale.ts';

export interface Sizes {
  engineRecords: number;
  enginePerBatch: number;
  e2eEvents: number;
  e2ePerBatch: number;
  recoveryBacklog: number;
  /** Records per partition per batch in scenario 5: the replayed first batch has this size. */
  recoveryPerBatch: number;
  checkpointIterations: number;
  s3Iterations: number;
  stateKeys: number;
  stateBatches: number;
  emptyBatches: number;
  drainRecords: number;
  drainPerBatch: number;
  /** Scenario 9: events the memory run drains, records per partition per batch (8 partitions). */
  memoryEvents: number;
  memoryPerBatch: number;
  /** Rounds of the cheaper side-by-side scenarios (1, 2/3, 7a); the median is reported. */
  rounds: number;
}

export const FULL: Sizes = {
  engineRecords: 5_000_000,
  enginePerBatch: 62_500,
  e2eEvents: 2_000_000,
  e2ePerBatch: 25_000,
  recoveryBacklog: 1_000_000,
  recoveryPerBatch: 6_250,
  checkpointIterations: 1000,
  s3Iterations: 300,
  stateKeys: 1_000_000,
  stateBatches: 4,
  emptyBatches: 100,
  drainRecords: 10_000_000,
  drainPerBatch: 50_000,
  memoryEvents: 1_000_000,
  memoryPerBatch: 25_000,
  rounds: 3,
};

export const QUICK: Sizes = {
  engineRecords: 1_000_000,
  enginePerBatch: 12_500,
  e2eEvents: 200_000,
  e2ePerBatch: 2_500,
  recoveryBacklog: 100_000,
  recoveryPerBatch: 2_500,
  checkpointIterations: 50,
  s3Iterations: 30,
  stateKeys: 200_000,
  stateBatches: 4,
  emptyBatches: 30,
  drainRecords: 2_000_000,
  drainPerBatch: 12_500,
  memoryEvents: 400_000,
  memoryPerBatch: 25_000,
  rounds: 1,
};

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const k = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
const ms = (v: number) => `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`;
const tmp = () => mkdtempSync(join(tmpdir(), 'microbatch-bench-'));

/** The run whose `metric` is the median of the runs (rounds interleave project and baseline, so drift hits both). */
export function median<R>(runs: ChildResult<R>[], metric: (r: R) => number): ChildResult<R> & { rounds: number[]; maxPeakRssMB: number } {
  const sorted = [...runs].sort((a, b) => metric(a.result) - metric(b.result));
  const mid = sorted[Math.floor((sorted.length - 1) / 2)]!;
  return { ...mid, rounds: runs.map((r) => metric(r.result)), maxPeakRssMB: Math.max(...runs.map((r) => r.peakRssMB)) };
}

/** Scenario 1: engine vs hand-written loop over the same generated records. */
export async function engineOverhead(s: Sizes): Promise<ScenarioResult> {
  const args = { partitions: 8, records: s.engineRecords, perBatch: s.enginePerBatch };
  const loops: ChildResult<ThroughputResult>[] = [];
  const engines: ChildResult<ThroughputResult>[] = [];
  const overReads: ChildResult<ThroughputResult>[] = [];
  for (let round = 0; round < s.rounds; round++) {
    loops.push(await runChild<ThroughputResult>('loop', args));
    engines.push(await runChild<ThroughputResult>('engine', args));
    overReads.push(await runChild<ThroughputResult>('loop-over-reads', args));
  }
  const loop = median(loops, (r) => r.recordsPerSec);
  const engine = median(engines, (r) => r.recordsPerSec);
  const overRead = median(overReads, (r) => r.recordsPerSec);
  for (const other of [engine, overRead]) {
    if (other.result.checksum !== loop.result.checksum) throw new Error(`the loops and the engine disagree: ${other.result.checksum} vs ${loop.result.checksum} keys`);
  }
  const ratio = engine.result.recordsPerSec / loop.result.recordsPerSec;
  const floor = overRead.result.recordsPerSec / loop.result.recordsPerSec;
  return {
    id: '1',
    title: `engine overhead: ${k(s.engineRecords)} records, 8 partitions, map/filter/reduceByKey`,
    project: `${k(engine.result.recordsPerSec)} rec/s`,
    baseline: `${k(loop.result.recordsPerSec)} rec/s (hand-written loop); the same loop over the arrays Source.read returns: ${k(overRead.result.recordsPerSec)} rec/s (${floor.toFixed(2)}x the loop)`,
    ratio,
    ratioOf: 'engine / loop',
    target: '>= 0.5',
    met: ratio >= 0.5,
    peakRssMB: { project: engine.maxPeakRssMB, baseline: loop.maxPeakRssMB },
    details: { args, rounds: s.rounds, engine, loop, loopOverReads: overRead },
  };
}

/** Shared by 2, 3 and 5: a topic filled by the sample's producer, databases per side, cleanup. */
export class EndToEnd {
  readonly brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.replace(/^kafka:\/\//, ''));
  readonly topic = `mbbench-${randomBytes(4).toString('hex')}`;
  private readonly databases: string[] = [];
  private readonly dirs: string[] = [];
  private readonly admin = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  produced: { ms: number } | undefined;
  results: Record<string, Awaited<ReturnType<typeof runChild<unknown>>>> = {};

  constructor(readonly s: Sizes) {
    this.admin.on('error', () => {});
  }

  async produce(): Promise<void> {
    if (this.produced) return;
    log(`producing ${k(this.s.e2eEvents)} sample events into ${this.topic}`);
    this.produced = (await runChild<{ ms: number }>('produce', { brokers: this.brokers, topic: this.topic, events: this.s.e2eEvents, partitions: 8 }, { timeoutMs: 600_000 })).result;
  }

  /** A new, empty database on the shared server (never touching anyone else's). */
  async database(side: string): Promise<string> {
    const name = `mbbench_${randomBytes(4).toString('hex')}_${side.replaceAll('-', '_')}`;
    await this.admin.query(`CREATE DATABASE ${name}`);
    this.databases.push(name);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    return url.toString();
  }

  dir(): string {
    const d = tmp();
    this.dirs.push(d);
    return d;
  }

  async drop(dbUrl: string): Promise<void> {
    const name = new URL(dbUrl).pathname.slice(1);
    await this.admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    this.databases.splice(this.databases.indexOf(name), 1);
  }

  async rows(dbUrl: string): Promise<{ raw: number; rejected: number }> {
    const client = new pg.Client({ connectionString: dbUrl });
    await client.connect();
    try {
      const raw = Number((await client.query('SELECT count(*) FROM events_raw')).rows[0].count);
      const rejected = Number((await client.query('SELECT count(*) FROM events_rejected')).rows[0].count);
      return { raw, rejected };
    } finally {
      await client.end();
    }
  }

  async pipeline(mode: 'exactly-once' | 'at-least-once', options: { readAhead?: boolean; perBatch?: number } = {}) {
    const dbUrl = await this.database(mode);
    const args = { mode, brokers: this.brokers, topic: this.topic, dbUrl, checkpointDir: this.dir(), perBatch: this.s.e2ePerBatch, ...options };
    const run = await runChild<PipelineResult>('pipeline', args, { timeoutMs: 600_000 });
    const rows = await this.rows(dbUrl);
    if (rows.raw + rows.rejected !== this.s.e2eEvents) throw new Error(`${mode}: ${rows.raw} + ${rows.rejected} rows stored, expected ${this.s.e2eEvents}`);
    await this.drop(dbUrl);
    return { ...run, rows };
  }

  async copy() {
    const dbUrl = await this.database('copy');
    const run = await runChild<Rate>('plain-copy', { dbUrl, events: this.s.e2eEvents, partitions: 8 });
    await this.drop(dbUrl);
    return run;
  }

  async close(): Promise<void> {
    for (const name of this.databases) await this.admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch((e) => log(`drop ${name}: ${e}`));
    await this.admin.end();
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
    if (this.produced) {
      const admin = new Kafka({ clientId: 'bench', brokers: this.brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.deleteTopics({ topics: [this.topic] }).catch((e) => log(`delete topic: ${e}`));
      await admin.disconnect();
    }
  }
}

type Run<R> = Awaited<ReturnType<typeof runChild<R>>>;
type Rate = { records: number; ms: number; recordsPerSec: number };

/**
 * Scenario 9 (issue 17): peak RSS of the sample pipeline draining `memoryEvents` with
 * `memoryPerBatch` records per partition per batch, without and with readAhead, as bytes per
 * record in flight: (peak RSS - the child's RSS before it starts) / records of one batch.
 */
export async function pipelineMemory(s: Sizes): Promise<ScenarioResult> {
  const e = new EndToEnd({ ...s, e2eEvents: s.memoryEvents });
  try {
    await e.produce();
    const inFlight = s.memoryPerBatch * 8;
    log(`scenario 9: the sample pipeline draining ${k(s.memoryEvents)} events, ${k(inFlight)} per batch, without and with readAhead`);
    const plain = await e.pipeline('exactly-once', { readAhead: false, perBatch: s.memoryPerBatch });
    const ahead = await e.pipeline('exactly-once', { readAhead: true, perBatch: s.memoryPerBatch });
    const perRecord = (run: typeof plain) => ((run.peakRssMB - run.result.baseRssMB) * 2 ** 20) / inFlight;
    const figures = (run: typeof plain) =>
      `peak RSS ${Math.round(run.peakRssMB)} MB (base ${Math.round(run.result.baseRssMB)} MB), ${(perRecord(run) / 1024).toFixed(2)} KB per record in flight, ${k(run.result.recordsPerSec)} ev/s`;
    const kb = perRecord(plain) / 1024;
    return {
      id: '11',
      title: `memory: the sample pipeline draining ${k(s.memoryEvents)} events, ${k(s.memoryPerBatch)} records per partition per batch (${k(inFlight)} in flight)`,
      project: `${figures(plain)}; with readAhead: ${figures(ahead)}`,
      baseline: '1.5 KB per record in flight (issue 17, batches of 200k)',
      ratio: kb,
      ratioOf: 'KB per record in flight, readAhead off',
      target: '<= 0.75',
      met: kb <= 0.75,
      peakRssMB: { project: plain.peakRssMB, baseline: ahead.peakRssMB },
      details: { inFlight, plain, readAhead: ahead },
    };
  } finally {
    await e.close();
  }
}

/** Scenarios 2 and 3: the sample pipeline exactly-once and at-least-once, a plain consumer, a plain COPY. */
export async function endToEnd(e: EndToEnd): Promise<ScenarioResult[]> {
  await e.produce();
  const s = e.s;
  const runs = {
    consumer: [] as ChildResult<Rate>[],
    copy: [] as ChildResult<Rate>[],
    exactly: [] as ChildResult<PipelineResult>[],
    atLeast: [] as ChildResult<PipelineResult>[],
    readAhead: [] as ChildResult<PipelineResult>[],
  };
  for (let round = 1; round <= s.rounds; round++) {
    log(`scenario 2/3, round ${round}/${s.rounds}: plain kafkajs consumer, plain COPY, pipeline exactly-once, pipeline at-least-once, exactly-once with read-ahead`);
    runs.consumer.push(await runChild<Rate>('consumer', { brokers: e.brokers, topic: e.topic, total: s.e2eEvents }));
    runs.copy.push(await e.copy());
    runs.exactly.push(await e.pipeline('exactly-once'));
    runs.atLeast.push(await e.pipeline('at-least-once'));
    runs.readAhead.push(await e.pipeline('exactly-once', { readAhead: true }));
  }
  const byRate = (r: Rate) => r.recordsPerSec;
  const consumer = median(runs.consumer, byRate);
  const copy = median(runs.copy, byRate);
  const exactly = median(runs.exactly, byRate);
  const atLeast = median(runs.atLeast, byRate);
  const readAhead = median(runs.readAhead, byRate);
  e.results.exactlyOnce = exactly;
  const slower = Math.min(consumer.result.recordsPerSec, copy.result.recordsPerSec);
  const ratio2 = exactly.result.recordsPerSec / slower;
  // A pipeline doing at least both baselines' work on one thread, with no overhead at all.
  const oneAfterOther = 1 / (1 / consumer.result.recordsPerSec + 1 / copy.result.recordsPerSec);
  const ratio3 = exactly.result.recordsPerSec / atLeast.result.recordsPerSec;
  const firstBatch = firstAgainstLater(runs.exactly.map((r) => r.result.batchTimes));
  return [
    {
      id: '2',
      title: `end-to-end exactly-once: ${k(s.e2eEvents)} sample events, Kafka (8 partitions) -> 4 Postgres tables`,
      project: `${k(exactly.result.recordsPerSec)} ev/s (with readAhead: ${k(readAhead.result.recordsPerSec)} ev/s, peak RSS ${Math.round(readAhead.maxPeakRssMB)} MB)`,
      baseline: `kafkajs consumer ${k(consumer.result.recordsPerSec)} rec/s; plain COPY ${k(copy.result.recordsPerSec)} rows/s; both one after the other in one process, 1/(1/consumer + 1/COPY): ${k(oneAfterOther)} rec/s (${(oneAfterOther / slower).toFixed(2)}x the slower)`,
      ratio: ratio2,
      ratioOf: 'pipeline / slower baseline',
      target: '>= 0.7',
      met: ratio2 >= 0.7,
      peakRssMB: { project: exactly.maxPeakRssMB, baseline: Math.max(consumer.maxPeakRssMB, copy.maxPeakRssMB) },
      details: { produced: e.produced, rounds: s.rounds, exactlyOnce: exactly, consumer, copy, exactlyOnceWithReadAhead: readAhead },
    },
    {
      id: '3',
      title: 'cost of exactly-once: markers + fencing vs the same pipeline at-least-once',
      project: `${k(exactly.result.recordsPerSec)} ev/s`,
      baseline: `${k(atLeast.result.recordsPerSec)} ev/s (no markers, no fence)`,
      ratio: ratio3,
      ratioOf: 'exactly-once / at-least-once',
      target: '>= 0.9',
      met: ratio3 >= 0.9,
      peakRssMB: { project: exactly.maxPeakRssMB, baseline: atLeast.maxPeakRssMB },
      details: { exactlyOnce: exactly, atLeastOnce: atLeast },
    },
    {
      id: '12',
      title: `the first batch against later ones: processing time per record of the pipeline's batches (scenario 2's exactly-once runs, ${k(8 * s.e2ePerBatch)} records a batch)`,
      project: `first batch ${firstBatch.first.map((f) => `${f.toFixed(2)}`).join(' / ')} us per record`,
      baseline: `later full batches (median of each run) ${firstBatch.later.map((l) => `${l.toFixed(2)}`).join(' / ')} us per record`,
      ratio: firstBatch.ratio,
      ratioOf: 'later batches / first batch, per record (median over the runs)',
      target: '>= 0.9',
      met: firstBatch.ratio >= 0.9,
      peakRssMB: { project: exactly.maxPeakRssMB, baseline: exactly.maxPeakRssMB },
      details: { batchTimes: runs.exactly.map((r) => r.result.batchTimes) },
    },
  ];
}

/**
 * Per run: the first batch's processing time per record, and the median of the later batches'
 * that hold at least half as many records (the last batch of a drain is a remainder, whose fixed
 * costs would dominate). The ratio is the median over the runs of later / first.
 */
function firstAgainstLater(runs: readonly (readonly { ms: number; records: number }[])[]): { first: number[]; later: number[]; ratio: number } {
  const perRecord = (b: { ms: number; records: number }) => (b.ms * 1000) / b.records;
  const mid = (xs: number[]) => (xs.length === 0 ? Number.NaN : percentile(xs, 50));
  const first: number[] = [];
  const later: number[] = [];
  for (const batches of runs) {
    const [head, ...rest] = batches.filter((b) => b.records > 0);
    if (!head) continue;
    first.push(perRecord(head));
    later.push(mid(rest.filter((b) => b.records >= head.records / 2).map(perRecord)));
  }
  return { first, later, ratio: mid(first.map((f, i) => later[i]! / f)) };
}

/** One crash and restart of the sample pipeline; `checkpointIntervalMs` sets how often user_totals is snapshotted. */
async function crashAndRestart(e: EndToEnd, checkpointIntervalMs?: number) {
  const s = e.s;
  const dbUrl = await e.database('recovery');
  const args = { mode: 'exactly-once', brokers: e.brokers, topic: e.topic, dbUrl, checkpointDir: e.dir(), perBatch: s.recoveryPerBatch, ...(checkpointIntervalMs ? { checkpointIntervalMs } : {}) };
  const killAt = s.e2eEvents - s.recoveryBacklog;
  log(`scenario 5 (snapshot interval ${checkpointIntervalMs ?? 'default'}): running the pipeline until ${k(killAt)} events are done, then SIGKILL`);
  let doneAtKill = 0;
  await runChild('pipeline', args, {
    timeoutMs: 600_000,
    expectSignal: 'SIGKILL',
    onEvent: (event, child) => {
      if (event.type === 'batch' && (event.records as number) >= killAt && doneAtKill === 0) {
        doneAtKill = event.records as number;
        child.kill('SIGKILL');
      }
    },
  });
  log('scenario 5: restarting');
  let firstSeenMs = Number.NaN;
  const spawned = performance.now();
  const restart = await runChild<PipelineResult>('pipeline', args, {
    timeoutMs: 600_000,
    onEvent: (event) => {
      if (event.type === 'batch' && Number.isNaN(firstSeenMs)) firstSeenMs = performance.now() - spawned;
    },
  });
  const rows = await e.rows(dbUrl);
  if (rows.raw + rows.rejected !== s.e2eEvents) throw new Error(`recovery: ${rows.raw} + ${rows.rejected} rows stored, expected ${s.e2eEvents}`);
  await e.drop(dbUrl);
  const r = restart.result;
  return {
    killedAfterRecords: doneAtKill,
    backlog: s.e2eEvents - doneAtKill,
    restart,
    firstSeenByParentMs: firstSeenMs,
    // Process start -> start() called (modules, Postgres pool, tables), start() -> streaming (epoch, checkpoint,
    // sources and sinks opened, state restored by replaying the batches since the last snapshot), first batch.
    phases: { loadMs: r.startCalledAtMs, recoverMs: r.streamingStartedAtMs - r.startCalledAtMs, firstBatchMs: r.firstBatchAtMs - r.streamingStartedAtMs },
    catchUpRecordsPerSec: (r.records / Math.max(1, r.ms)) * 1000,
    rows,
  };
}

/** Scenario 5: SIGKILL with a backlog left, restart, time to the first completed batch and catch-up rate. */
export async function recovery(e: EndToEnd): Promise<ScenarioResult> {
  await e.produce();
  const s = e.s;
  // microbatch-sample run snapshots its state every batch (batch interval 1000 ms here); the
  // engine's default interval (10 batches) is measured too, for comparison.
  const asSample = await crashAndRestart(e, 1000);
  const engineDefault = await crashAndRestart(e);
  // Baseline: a plain kafkajs consumer process from start to its first batch of messages.
  const consumerFirst = await runChild<Rate & { firstBatchAtMs: number }>('consumer', { brokers: e.brokers, topic: e.topic, total: 1 });
  const first = asSample.restart.result.firstBatchAtMs;
  const p = asSample.phases;
  const steady = e.results.exactlyOnce?.result as PipelineResult | undefined;
  return {
    id: '5',
    title: `recovery: SIGKILL with ${k(asSample.backlog)} events of backlog, restart (batches of ${k(8 * s.recoveryPerBatch)})`,
    project:
      `first batch ${ms(first)} after process start (load ${ms(p.loadMs)}, recovery ${ms(p.recoverMs)}, batch ${ms(p.firstBatchMs)}); catch-up ${k(asSample.catchUpRecordsPerSec)} ev/s; ` +
      `with the engine's default snapshot interval (10 batches): first batch ${ms(engineDefault.restart.result.firstBatchAtMs)} (recovery ${ms(engineDefault.phases.recoverMs)}), catch-up ${k(engineDefault.catchUpRecordsPerSec)} ev/s`,
    baseline: `plain kafkajs consumer: first messages ${ms(consumerFirst.result.firstBatchAtMs)} after process start${steady ? `; uninterrupted pipeline ${k(steady.recordsPerSec)} ev/s` : ''}`,
    ratio: consumerFirst.result.firstBatchAtMs / first,
    ratioOf: 'consumer first batch / pipeline first batch',
    target: 'first batch <= 2000 ms',
    met: first <= 2000,
    peakRssMB: { project: Math.max(asSample.restart.peakRssMB, engineDefault.restart.peakRssMB), baseline: consumerFirst.peakRssMB },
    details: { asSample, engineDefault, consumerFirst },
  };
}

/** Scenario 4: checkpoint latency and size per store, against the raw client. */
export async function checkpoints(s: Sizes): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const sizes: { partitions: number; records: number; bytes: number }[] = [];
  for (const partitions of [64, 1024]) {
    for (const recordsPerPartition of [10, 1000]) sizes.push((await runChild<{ partitions: number; records: number; bytes: number }>('checkpoint-size', { partitions, recordsPerPartition })).result);
  }
  const bytes = (p: number, r: number) => sizes.find((x) => x.partitions === p && x.records === p * r)!.bytes;
  const byRecords = Math.max(bytes(64, 1000) / bytes(64, 10), bytes(1024, 1000) / bytes(1024, 10));
  const byPartitions = bytes(1024, 1000) / bytes(64, 1000);
  results.push({
    id: '4-size',
    title: 'checkpoint size from real engine runs: 64 / 1024 partitions, 100x more records',
    project: sizes.map((x) => `${x.partitions}p ${k(x.records)} rec: ${k(x.bytes)} B`).join('; '),
    baseline: 'size with 100x fewer records',
    ratio: byRecords,
    ratioOf: `size(100x records) / size; 16x partitions gives ${byPartitions.toFixed(1)}x`,
    target: 'grows with partitions, not records (ratio < 1.2)',
    met: byRecords < 1.2 && byPartitions > 4,
    peakRssMB: { project: Number.NaN, baseline: Number.NaN },
    details: { sizes },
  });
  for (const store of ['fs', 'redis', 's3'] as const) {
    log(`scenario 4: ${store} checkpoint store`);
    const iterations = store === 's3' ? s.s3Iterations : s.checkpointIterations;
    const run = await runChild<StoreResult>('checkpoint-store', { store, partitions: [64, 1024], iterations }, { timeoutMs: 600_000 });
    const limit = store === 's3' ? 50 : 10;
    const worst = Math.max(...run.result.project.flatMap((r) => [r.write.p99, r.read.p99]));
    const f = (r: { write: { p50: number; p99: number }; read: { p50: number; p99: number } }) => `w ${r.write.p50.toFixed(1)}/${r.write.p99.toFixed(1)}, r ${r.read.p50.toFixed(1)}/${r.read.p99.toFixed(1)}`;
    const rawWorst = Math.max(...run.result.raw.flatMap((r) => [r.write.p99, r.read.p99]));
    results.push({
      id: `4-${store}`,
      title: `checkpoint ${store}: p50/p99 ms (w = write, r = read)`,
      project: run.result.project.map((r) => `${r.partitions}p ${k(r.bytes)} B: ${f(r)}`).join('; '),
      baseline:
        run.result.raw.map((r) => `${r.partitions}p: ${f(r)}`).join('; ') +
        ' (raw client, same bytes)' +
        (run.result.requestsPerWrite ? `; store requests per write: ${Object.entries(run.result.requestsPerWrite).map(([c, n]) => `${c.replace('Command', '')} ${n}`).join(', ')}` : ''),
      ratio: rawWorst / worst,
      ratioOf: 'raw worst p99 / store worst p99',
      target: `p99 < ${limit} ms`,
      met: worst < limit,
      peakRssMB: { project: run.peakRssMB, baseline: Number.NaN },
      details: run,
    });
  }
  return results;
}

/** Scenario 6: state of N keys. */
export async function state(s: Sizes): Promise<ScenarioResult> {
  const dir = tmp();
  try {
    const args = { keys: s.stateKeys, batches: s.stateBatches, dir };
    const gc = { nodeArgs: ['--expose-gc'], timeoutMs: 600_000 };
    type Ingest = { keys: number; ingestMs: number; snapshotWriteMs: number; snapshotBytes: number; heapAfterMB: number; peakLiveHeapMB: number };
    const live = await runChild<{ keys: number; liveMB: number; baseRssMB: number; buildPeakRssMB: number; writeMs: number; readMs: number }>('state-live', args, gc);
    const ingest = await runChild<Ingest>('state-ingest', args, gc);
    const restore = await runChild<{ keys: number; restoreMs: number; heapAfterMB: number }>('state-restore', args, gc);
    const sampled = await runChild<Ingest>('state-ingest', { ...args, dir: join(dir, 'sampled'), sampleLiveHeap: true }, gc);
    if (ingest.result.keys !== s.stateKeys || restore.result.keys !== s.stateKeys) throw new Error(`state holds ${ingest.result.keys} / ${restore.result.keys} keys, expected ${s.stateKeys}`);
    const peak = Math.max(ingest.peakRssMB, restore.peakRssMB);
    // The process's own footprint (Node, tsx, modules) is not state: subtract the baseline child's RSS before it held anything.
    const base = live.result.baseRssMB;
    const ratio = (peak - base) / live.result.liveMB;
    const of = (mb: number) => ((mb - base) / live.result.liveMB).toFixed(2);
    return {
      id: '6',
      title: `state: updateStateByKey over ${k(s.stateKeys)} keys (${s.stateBatches} batches, fs store)`,
      project: `snapshot write ${ms(ingest.result.snapshotWriteMs)} (${k(ingest.result.snapshotBytes)} B), restore ${ms(restore.result.restoreMs)}, heap after ${Math.round(ingest.result.heapAfterMB)} MB; live heap at a batch's fullest ${Math.round(sampled.result.peakLiveHeapMB)} MB (${(sampled.result.peakLiveHeapMB / live.result.liveMB).toFixed(2)}x the state), peak RSS with a full GC after every batch ${of(sampled.peakRssMB)}x`,
      baseline: `live state ${Math.round(live.result.liveMB)} MB (plain Map); a process only building that Map peaks at ${of(live.result.buildPeakRssMB)}x; JSON lines write ${ms(live.result.writeMs)}, read ${ms(live.result.readMs)}`,
      ratio,
      ratioOf: `(peak RSS - ${Math.round(live.result.baseRssMB)} MB process base) / live state`,
      target: '< 2',
      met: ratio < 2,
      peakRssMB: { project: peak, baseline: live.peakRssMB },
      details: { args: { keys: s.stateKeys, batches: s.stateBatches }, live, ingest, restore, sampled },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Scenario 7: empty batches over 1000 partitions, and a large backlog drained under a per-partition cap. */
export async function scale(s: Sizes): Promise<ScenarioResult[]> {
  const args = { partitions: 1000, batches: s.emptyBatches };
  const floors: ChildResult<PerBatchResult>[] = [];
  const empties: ChildResult<PerBatchResult>[] = [];
  for (let round = 0; round < s.rounds; round++) {
    floors.push(await runChild<PerBatchResult>('empty-floor', args));
    empties.push(await runChild<PerBatchResult>('empty-batches', args));
  }
  const floor = median(floors, (r) => r.msPerBatch);
  const empty = median(empties, (r) => r.msPerBatch);
  const drainArgs = { partitions: 8, records: s.drainRecords, perBatch: s.drainPerBatch };
  log(`scenario 7: draining ${k(s.drainRecords)} records`);
  const loop = await runChild<ThroughputResult>('loop', drainArgs, { timeoutMs: 600_000 });
  const drain = await runChild<ThroughputResult>('engine', drainArgs, { timeoutMs: 600_000 });
  // The same backlog with no cap of the user's: only the engine's default maxRecordsPerBatch bounds it.
  const defaultsArgs = { partitions: 8, records: s.drainRecords };
  log(`scenario 7c: draining ${k(s.drainRecords)} records with default options`);
  const defaults = await runChild<ThroughputResult>('engine', defaultsArgs, { timeoutMs: 600_000 });
  return [
    {
      id: '7a',
      title: '1000 partitions, empty batches (fs checkpoint store)',
      project: `${ms(empty.result.msPerBatch)} per batch (p99 ${ms(empty.result.p99Ms)})`,
      baseline: `${ms(floor.result.msPerBatch)} (offsets + one checkpoint write, nothing else)`,
      ratio: floor.result.msPerBatch / empty.result.msPerBatch,
      ratioOf: 'floor / engine per batch',
      target: '< 20 ms per batch',
      met: empty.result.msPerBatch < 20,
      peakRssMB: { project: empty.maxPeakRssMB, baseline: floor.maxPeakRssMB },
      details: { args, empty, floor },
    },
    {
      id: '7b',
      title: `${k(s.drainRecords)}-record backlog, maxRecordsPerPartition ${k(s.drainPerBatch)}`,
      project: `${k(drain.result.recordsPerSec)} rec/s, peak RSS ${Math.round(drain.peakRssMB)} MB`,
      baseline: `${k(loop.result.recordsPerSec)} rec/s (hand-written loop)`,
      ratio: drain.peakRssMB / 1024,
      ratioOf: `peak RSS / 1 GB; speed ${(drain.result.recordsPerSec / loop.result.recordsPerSec).toFixed(2)}x the loop`,
      target: 'peak RSS < 1 GB',
      met: drain.peakRssMB < 1024,
      peakRssMB: { project: drain.peakRssMB, baseline: loop.peakRssMB },
      details: { args: drainArgs, drain, loop },
    },
    {
      id: '7c',
      title: `${k(s.drainRecords)}-record backlog, default options (maxRecordsPerBatch 200k)`,
      project: `${k(defaults.result.recordsPerSec)} rec/s in ${defaults.result.batches} batches, peak RSS ${Math.round(defaults.peakRssMB)} MB`,
      baseline: `7b: ${Math.round(drain.peakRssMB)} MB under an explicit cap of ${k(s.drainPerBatch * 8)} per batch`,
      ratio: defaults.peakRssMB / 1024,
      ratioOf: 'peak RSS / 1 GB',
      target: 'peak RSS < 1 GB',
      met: defaults.peakRssMB < 1024,
      peakRssMB: { project: defaults.peakRssMB, baseline: drain.peakRssMB },
      details: { args: defaultsArgs, defaults },
    },
  ];
}

/** Scenario 9: 1-minute tumbling event-time windows over 10k keys against plain reduceByKey over the same records. */
export async function eventTime(s: Sizes): Promise<ScenarioResult> {
  // The engine scenario's input size and batches; event times span an hour, so every batch closes windows.
  const args = { partitions: 8, records: s.engineRecords, perBatch: s.enginePerBatch, keys: 10_000, spanMs: 3_600_000 };
  const windowsRuns: ChildResult<EventTimeResult>[] = [];
  const reduceRuns: ChildResult<EventTimeResult>[] = [];
  for (let round = 0; round < s.rounds; round++) {
    reduceRuns.push(await runChild<EventTimeResult>('event-reduce-by-key', args));
    windowsRuns.push(await runChild<EventTimeResult>('event-windows', args));
  }
  const windows = median(windowsRuns, (r) => r.recordsPerSec);
  const reduce = median(reduceRuns, (r) => r.recordsPerSec);
  if (reduce.result.total !== s.engineRecords || windows.result.total > s.engineRecords || windows.result.outputs === 0) {
    throw new Error(`counts disagree: reduceByKey summed ${reduce.result.total}, windows ${windows.result.total} of ${s.engineRecords} records`);
  }
  const ratio = windows.result.recordsPerSec / reduce.result.recordsPerSec;
  return {
    id: '9',
    title: `event time: ${k(s.engineRecords)} records, 8 partitions, 10k keys, 1-minute tumbling windows (watermark 10 s) vs reduceByKey`,
    project: `${k(windows.result.recordsPerSec)} rec/s (CPU ${Math.round(windows.result.cpuMs)} ms), ${k(windows.result.outputs)} windows closed, peak state ${k(windows.result.peakOpenWindows)} open windows (window x key)`,
    baseline: `${k(reduce.result.recordsPerSec)} rec/s (CPU ${Math.round(reduce.result.cpuMs)} ms; reduceByKey per batch, no state across batches)`,
    ratio,
    ratioOf: 'event windows / reduceByKey',
    target: '>= 0.7',
    met: ratio >= 0.7,
    peakRssMB: { project: windows.maxPeakRssMB, baseline: reduce.maxPeakRssMB },
    details: { args, rounds: s.rounds, windows, reduce },
  };
}
