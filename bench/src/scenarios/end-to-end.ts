// Scenarios 2, 3 and 5, child side: the sample pipeline (Kafka -> four Postgres tables), the same
// pipeline at-least-once, a plain kafkajs consumer, a plain COPY of the same rows, and the
// producer that fills the topic.
import { Readable } from 'node:stream';
import { pipeline as streamPipeline } from 'node:stream/promises';
import { StreamingContext, createDefaultLogger, createVirtualClock, silentLogger, type DStream, type Logger } from '@microbatch/core';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { produce } from '@microbatch/sample/src/commands/produce.ts';
import { classify, parseJson, type Classified } from '@microbatch/sample/src/events.ts';
import { rawRecord, recordsInPartition } from '@microbatch/sample/src/generate.ts';
import { buildPipeline, inputStream, userTotals, writeEvents } from '@microbatch/sample/src/pipeline.ts';
import { createTables, openDatabase } from '@microbatch/sample/src/resources.ts';
import { encodeCopyChunks, type Database } from '@microbatch/sink-postgres';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { emit, rate } from '../events.ts';

export interface ProduceArgs {
  readonly brokers: string[];
  readonly topic: string;
  readonly events: number;
  readonly partitions: number;
}

/** `microbatch-sample produce`: the generator's records, record (p, o) at partition p offset o. */
async function produceTopic(args: ProduceArgs): Promise<{ ms: number }> {
  const start = performance.now();
  const code = await produce(
    ['--brokers', args.brokers.join(','), '--topic', args.topic, '--events', String(args.events), '--partitions', String(args.partitions)],
    () => {},
  );
  if (code !== 0) throw new Error(`produce exited ${code}`);
  return { ms: performance.now() - start };
}

export interface PipelineArgs {
  readonly mode: 'exactly-once' | 'at-least-once';
  readonly brokers: string[];
  readonly topic: string;
  readonly dbUrl: string;
  readonly checkpointDir: string;
  readonly perBatch: number;
  /** The context's checkpointIntervalMs (state snapshots); default: the engine's (10 batches here). */
  readonly checkpointIntervalMs?: number;
  /** The context's readAhead; default: the engine's. */
  readonly readAhead?: boolean;
}

export interface PipelineResult {
  readonly records: number;
  readonly batches: number;
  /** start() to termination. */
  readonly ms: number;
  readonly recordsPerSec: number;
  /** Since the process started (performance.timeOrigin): the first batch completed, and start() was called. */
  readonly firstBatchAtMs: number;
  readonly startCalledAtMs: number;
  /** Since the process started: recovery done (onStreamingStarted), and the first batch began processing. */
  readonly streamingStartedAtMs: number;
  readonly firstBatchStartedAtMs: number;
  readonly replayedBatches: number;
  /** Each batch's processing (onBatchStarted to onBatchCompleted, performance.now()) and its records, in order. */
  readonly batchTimes: readonly { readonly ms: number; readonly records: number }[];
  /** RSS when the pipeline child starts its work (Node, tsx and the loaded modules): the process base. */
  readonly baseRssMB: number;
}

/**
 * The at-least-once variant for scenario 3: the same rows and statements as the sample (its own
 * writeEvents and userTotals), in one plain transaction per partition, but with no fence check and
 * no commit marker, so a replay writes again.
 */
function buildAtLeastOnce(classified: DStream<Classified>, db: Database): void {
  classified.foreachBatch(async (batch) => batch.foreachPartition(async (records) => db.transaction((tx) => writeEvents(tx, records))), { name: 'events' });
  userTotals(classified, db);
}

const EVENT_COLUMNS = ['event_id', 'user_id', 'page', 'amount', 'ts', 'source_partition', 'source_offset'];
const REJECTED_COLUMNS = ['source_partition', 'source_offset', 'reason', 'raw'];

/** The events_raw and events_rejected rows of classified records, as the sample writes them. */
function rowsOf(records: readonly Classified[]): { events: unknown[][]; rejected: unknown[][] } {
  const events: unknown[][] = [];
  const rejected: unknown[][] = [];
  for (const c of records) {
    if (c.kind === 'rejected') rejected.push([c.partition, c.offset, c.reason, c.raw.replaceAll('\u0000', '\uFFFD')]);
    else events.push([c.event.id, c.event.user, c.event.page, c.event.amount, c.event.ts, c.partition, c.offset]);
  }
  return { events, rejected };
}

/** Silent, unless BENCH_LOG_LEVEL asks for the pipeline's logs (to see where a slow start spends its time). */
const benchLogger = (): Logger => (process.env.BENCH_LOG_LEVEL ? createDefaultLogger({ app: 'bench' }, { level: process.env.BENCH_LOG_LEVEL as 'debug' }) : silentLogger);

async function runPipeline(args: PipelineArgs): Promise<PipelineResult> {
  const baseRssMB = process.memoryUsage().rss / 2 ** 20;
  const logger = benchLogger();
  const database = await openDatabase({ kind: 'postgres', url: args.dbUrl }, logger);
  const store = createFsCheckpointStore({ dir: args.checkpointDir, logger });
  try {
    await createTables(database.db);
    const ssc = new StreamingContext({
      appId: 'bench-e2e',
      batchIntervalMs: 1000,
      checkpoint: store,
      // Batches back to back: the run measures throughput, not the interval.
      clock: createVirtualClock(Date.now() - (Date.now() % 1000)),
      maxRecordsPerPartition: args.perBatch,
      ...(args.checkpointIntervalMs ? { checkpointIntervalMs: args.checkpointIntervalMs } : {}),
      ...(args.readAhead === undefined ? {} : { readAhead: args.readAhead }),
      stopWhenIdle: true,
      stopOnSignals: false,
      logger,
    });
    const classified = inputStream(ssc, { kind: 'kafka', brokers: args.brokers, topic: args.topic });
    if (args.mode === 'exactly-once') buildPipeline(classified, database.db);
    else buildAtLeastOnce(classified, database.db);
    let records = 0;
    let batches = 0;
    let firstBatchAtMs = Number.NaN;
    let replayedBatches = 0;
    let streamingStartedAtMs = Number.NaN;
    let firstBatchStartedAtMs = Number.NaN;
    let batchStartedAt = Number.NaN;
    const batchTimes: { ms: number; records: number }[] = [];
    // BENCH_TIMELINE=1: one stderr line per phase of every batch, to see where a batch waits.
    const mark = process.env.BENCH_TIMELINE ? (what: string) => process.stderr.write(`${performance.now().toFixed(0)} ms ${what}\n`) : () => {};
    ssc.addListener({
      onBatchSubmitted: (info) => mark(`batch ${info.batchTime} submitted (${info.numRecords} records)`),
      onOutputOperationStarted: (info) => mark(`  output ${info.name} started`),
      onOutputOperationCompleted: (info) => mark(`  output ${info.name} completed in ${info.durationMs} ms`),
      onCheckpointWritten: (info) => mark(`  checkpoint written in ${info.durationMs.toFixed(1)} ms`),
      onBatchStarted: () => mark('  batch started'),
      onBatchCompleted: () => mark('  batch completed'),
    });
    ssc.addListener({
      onStreamingStarted: (e) => {
        if (process.env.BENCH_LOG_LEVEL) process.stderr.write(`streaming started at ${performance.now().toFixed(0)} ms\n`);
        replayedBatches = e.replayBatches;
        streamingStartedAtMs = performance.now();
      },
      onBatchStarted: () => {
        batchStartedAt = performance.now();
        if (Number.isNaN(firstBatchStartedAtMs)) firstBatchStartedAtMs = batchStartedAt;
      },
      onBatchCompleted: (info) => {
        batchTimes.push({ ms: performance.now() - batchStartedAt, records: info.numRecords });
        if (batches === 0) firstBatchAtMs = performance.now();
        batches++;
        records += info.numRecords;
        emit('batch', { records, atMs: performance.now() });
      },
    });
    const startCalledAtMs = performance.now();
    if (process.env.BENCH_LOG_LEVEL) process.stderr.write(`start() at ${startCalledAtMs.toFixed(0)} ms, time origin ${performance.timeOrigin}\n`);
    await ssc.start();
    await ssc.awaitTermination();
    const ms = performance.now() - startCalledAtMs;
    return { records, batches, ms, recordsPerSec: rate(records, ms), firstBatchAtMs, startCalledAtMs, streamingStartedAtMs, firstBatchStartedAtMs, replayedBatches, batchTimes, baseRssMB };
  } finally {
    await store.close();
    await database.close();
  }
}

export interface ConsumerArgs {
  readonly brokers: string[];
  readonly topic: string;
  /** Stop after this many records; 0: after the first batch of messages. */
  readonly total: number;
}

/** A plain kafkajs consumer in a fresh group reading from the beginning and doing nothing (eachBatch). */
async function consumer(args: ConsumerArgs): Promise<{ records: number; ms: number; recordsPerSec: number; firstBatchAtMs: number }> {
  const kafka = new Kafka({ clientId: 'bench', brokers: args.brokers, logLevel: logLevel.NOTHING });
  const start = performance.now();
  const c = kafka.consumer({ groupId: `bench-${process.pid}-${Date.now()}` });
  await c.connect();
  await c.subscribe({ topics: [args.topic], fromBeginning: true });
  let records = 0;
  let firstBatchAtMs = Number.NaN;
  await new Promise<void>((resolve) => {
    void c.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (records === 0) firstBatchAtMs = performance.now();
        records += batch.messages.length;
        if (records >= args.total) resolve();
      },
    });
  });
  const ms = performance.now() - start;
  await c.disconnect();
  return { records, ms, recordsPerSec: rate(records, ms), firstBatchAtMs };
}

export interface CopyArgs {
  readonly dbUrl: string;
  readonly events: number;
  readonly partitions: number;
}

/** The rows the pipeline stores in events_raw and events_rejected, COPYed into the same tables with nothing else. */
async function plainCopy(args: CopyArgs): Promise<{ records: number; ms: number; recordsPerSec: number }> {
  const shape = { events: args.events, partitions: args.partitions, seed: 1 };
  const classified: Classified[] = [];
  for (let p = 0; p < shape.partitions; p++) {
    for (let o = 0; o < recordsInPartition(shape, p); o++) {
      const raw = rawRecord(shape, p, o);
      classified.push(classify(p, o, raw, parseJson(raw)));
    }
  }
  const { events, rejected } = rowsOf(classified);
  const pool = new pg.Pool({ connectionString: args.dbUrl, max: 2 });
  try {
    const database = await openDatabase({ kind: 'postgres', url: args.dbUrl }, silentLogger);
    await createTables(database.db);
    await database.close();
    const copy = async (table: string, columns: string[], rows: unknown[][]) => {
      const client = await pool.connect();
      try {
        const stream = client.query(copyStreams.from(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
        await streamPipeline(
          Readable.from(encodeCopyChunks(rows, (row) => row)),
          stream,
        );
      } finally {
        client.release();
      }
    };
    const start = performance.now();
    await Promise.all([copy('events_raw', EVENT_COLUMNS, events), copy('events_rejected', REJECTED_COLUMNS, rejected)]);
    const ms = performance.now() - start;
    return { records: events.length + rejected.length, ms, recordsPerSec: rate(events.length + rejected.length, ms) };
  } finally {
    await pool.end();
  }
}

export const endToEndTasks = { produce: produceTopic, pipeline: runPipeline, consumer, 'plain-copy': plainCopy };
