import { StreamingContext, createDefaultLogger, type Logger } from '@microbatch/core';
import { formatStatusLine } from '@microbatch/ui';
import { parseMember, type Membership } from '../coordinator.js';
import { runGroupMember } from '../group-member.js';
import { UsageError, assertShape, brokersFrom, checkpointFrom, helpText, parseFlags, shapeFlags, sinkFrom, sourceFlags, storeFlags, type FlagSpec } from '../options.js';
import type { InputSpec } from '../pipeline.js';
import { ensureOutputTopics } from '../kafka-topics.js';
import { topicTotals } from '../kafka-verify.js';
import { buildKafkaProgram, buildProgram, contextOptions, serveRunDashboard, type RunSettings } from '../program.js';
import { BatchRejections } from '../rejections.js';
import { createTables, openCheckpointStore, openDatabase } from '../resources.js';
import { formatTotals, readTotals } from '../summary.js';
import type { KafkaSinkSpec } from '../uris.js';
import { runWorkers, withoutFlag } from '../workers.js';

export const groupFlags: FlagSpec[] = [
  { name: 'group', kind: 'boolean', default: false, help: "join the app's Kafka consumer group (group id = app id) and run the tasks it assigns (task N = partition N); needs --source kafka and a postgres:// sink" },
  { name: 'member', kind: 'string', help: 'I/N: static member I (0-based) of N, running tasks t with t % N == I, no rebalancing; needs a postgres:// sink' },
  { name: 'workers', kind: 'int', default: 0, help: 'run N members on this machine, each a run of this app (with --source kafka: --group; else --member i/N)' },
  { name: 'session-timeout', kind: 'int', default: 10_000, help: "ms without a heartbeat before the Kafka group moves a member's tasks (with --group)" },
];

export const runFlags: FlagSpec[] = [
  ...sourceFlags,
  ...shapeFlags,
  ...storeFlags,
  { name: 'batch-interval', kind: 'int', default: 1000, help: 'batch interval in ms' },
  { name: 'max-records-per-partition', kind: 'int', help: 'cap of records per partition per batch (default: none)' },
  { name: 'until-idle', kind: 'boolean', default: false, help: 'stop gracefully once a batch finds no new input (in a group: once every task of this member did)' },
  { name: 'quiet', kind: 'boolean', default: false, help: 'no progress line per batch' },
  { name: 'http-port', kind: 'int', help: 'serve the live dashboard and Prometheus /metrics on 127.0.0.1:<port> (0: any free port; --workers: member i gets port+i)' },
  ...groupFlags,
];

export const runHelp = helpText('run', 'run the sample pipeline (Ctrl-C or SIGTERM stops gracefully)', runFlags);

/** The group a run joins, or undefined for a single process (today's behaviour, same checkpoints). */
function membershipOf(o: Record<string, unknown>): Membership | undefined {
  if (o.group && o.member !== undefined) throw new UsageError('--group and --member are two ways to join a group: give one');
  if (o.group) {
    if (o.source !== 'kafka') throw new UsageError('--group joins a Kafka consumer group: it needs --source kafka (for the generator use --member I/N)');
    return { kind: 'kafka-group', sessionTimeoutMs: o['session-timeout'] as number };
  }
  return o.member === undefined ? undefined : parseMember(o.member as string);
}

export async function run(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const o = parseFlags(argv, runFlags);
  assertShape(o);
  const checkpoint = checkpointFrom(o.checkpoint as string);
  const sink = sinkFrom(o.sink as string);
  const input: InputSpec =
    o.source === 'kafka'
      ? { kind: 'kafka', brokers: brokersFrom(o.brokers as string | undefined), topic: o.topic as string }
      : { kind: 'memory', shape: { events: o.events as number, partitions: o.partitions as number, seed: o.seed as number } };
  const workers = o.workers as number;
  const membership = membershipOf(o);
  if (workers > 0 && membership) throw new UsageError('--workers starts its own members (--group or --member i/N each): give --workers alone');
  if ((workers > 0 || membership) && sink.kind === 'kafka') {
    throw new UsageError('--sink kafka:// runs as one process: a group writes to a shared postgres://... sink (the Kafka sink has no per-task outputs in the sample)');
  }
  if ((workers > 0 || membership) && sink.kind !== 'postgres') {
    throw new UsageError(
      'a group needs a sink its members share: --sink postgres://... (pglite: is an embedded database one process opens); ' +
        'its checkpoints need a shared store too: fs:<dir> on one machine, redis:// or s3://',
    );
  }
  if (workers > 0) {
    const port = o['http-port'] as number | undefined;
    const base = withoutFlag(withoutFlag(argv, 'workers'), 'http-port');
    return runWorkers(workers, (i) => [
      'run',
      ...base,
      ...(input.kind === 'kafka' ? ['--group'] : ['--member', `${i}/${workers}`]),
      ...(port === undefined ? [] : ['--http-port', String(port === 0 ? 0 : port + i)]),
    ], write);
  }
  const settings: RunSettings = {
    batchIntervalMs: o['batch-interval'] as number,
    untilIdle: o['until-idle'] as boolean,
    ...(o['max-records-per-partition'] ? { maxRecordsPerPartition: o['max-records-per-partition'] as number } : {}),
  };
  const logger: Logger = createDefaultLogger({ app: o['app-id'] });
  if (sink.kind === 'kafka') return runToKafka(o, input, settings, sink, checkpoint, logger, write);
  const database = await openDatabase(sink, logger);
  const { db } = database;
  const store = openCheckpointStore(checkpoint, logger);
  try {
    await createTables(db);
    const started = Date.now();
    const httpPort = o['http-port'] as number | undefined;
    const { batches, records } = membership
      ? await runGroupMember({ appId: o['app-id'] as string, membership, input, settings, db, store, logger, quiet: o.quiet as boolean, ...(httpPort === undefined ? {} : { httpPort }) }, write)
      : await runSingle(o, settings, store, logger, write, (ssc, rejections) => buildProgram(ssc, input, db, rejections));
    write(doneLine(started, batches, records));
    write(formatTotals(await readTotals(db)));
    return 0;
  } finally {
    await store.close();
    await database.close();
  }
}

function doneLine(started: number, batches: number, records: number): string {
  const seconds = (Date.now() - started) / 1000;
  return `\ndone: ${batches} batches, ${records} records in ${seconds.toFixed(1)} s (${Math.round(records / Math.max(seconds, 0.001))} records/s)`;
}

/**
 * `--sink kafka://host:port/PREFIX`: one process writing the four outputs as topics (created when
 * missing, with as many partitions as the input), then the same summary, read back read_committed.
 */
async function runToKafka(
  o: Record<string, unknown>,
  input: InputSpec,
  settings: RunSettings,
  sink: KafkaSinkSpec,
  checkpoint: ReturnType<typeof checkpointFrom>,
  logger: Logger,
  write: (line: string) => void,
): Promise<number> {
  const store = openCheckpointStore(checkpoint, logger);
  try {
    await ensureOutputTopics(sink, o.partitions as number);
    const started = Date.now();
    const { batches, records } = await runSingle(o, settings, store, logger, write, (ssc, rejections) => buildKafkaProgram(ssc, input, sink, rejections));
    write(doneLine(started, batches, records));
    write(formatTotals(await topicTotals(sink)));
    return 0;
  } finally {
    await store.close();
  }
}

/** One process running the whole application under its app id, as before groups existed. */
async function runSingle(
  o: Record<string, unknown>,
  settings: RunSettings,
  store: ReturnType<typeof openCheckpointStore>,
  logger: Logger,
  write: (line: string) => void,
  build: (ssc: StreamingContext, rejections: BatchRejections) => void,
): Promise<{ batches: number; records: number }> {
  const ssc = new StreamingContext({ ...contextOptions(settings, store), appId: o['app-id'] as string, logger });
  const rejections = new BatchRejections(logger);
  build(ssc, rejections);
  let batches = 0;
  let records = 0;
  // On a terminal one status line is rewritten in place; piped output gets a line per batch.
  const live = process.stdout.isTTY === true && !o.quiet;
  ssc.addListener({
    onStreamingStarted: (e) => write(`started app ${ssc.appId} (epoch ${e.epoch}), replaying ${e.replayBatches} batch(es) from the checkpoint`),
    onBatchCompleted: (info) => {
      batches++;
      records += info.numRecords;
      const rejected = rejections.completed(info);
      const line = formatStatusLine(info, { batchIntervalMs: ssc.batchIntervalMs, ...(rejected ? { rejected: rejected.total } : {}) });
      if (live) process.stdout.write(`\r\x1b[2K${line}`);
      else if (!o.quiet) write(line);
    },
  });
  const dashboard = await serveRunDashboard(o['http-port'] as number | undefined, (metrics) => (ssc.addListener(metrics.listener), { context: ssc }), write);
  try {
    await ssc.start();
    await ssc.awaitTermination();
  } finally {
    if (live) write('');
    await dashboard?.close();
  }
  return { batches, records };
}
