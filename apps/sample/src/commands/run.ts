import { StreamingContext, createDefaultLogger, type Logger } from '@microbatch/core';
import { createPrometheusMetrics } from '@microbatch/metrics';
import { formatStatusLine, serveDashboard, type ServedDashboard } from '@microbatch/ui';
import { assertShape, brokersFrom, checkpointFrom, helpText, parseFlags, shapeFlags, sinkFrom, sourceFlags, storeFlags, type FlagSpec } from '../options.js';
import { buildPipeline, inputStream, type InputSpec } from '../pipeline.js';
import { BatchRejections } from '../rejections.js';
import { createTables, openCheckpointStore, openDatabase } from '../resources.js';
import { formatTotals, readTotals } from '../summary.js';

export const runFlags: FlagSpec[] = [
  ...sourceFlags,
  ...shapeFlags,
  ...storeFlags,
  { name: 'batch-interval', kind: 'int', default: 1000, help: 'batch interval in ms' },
  { name: 'max-records-per-partition', kind: 'int', help: 'cap of records per partition per batch (default: none)' },
  { name: 'until-idle', kind: 'boolean', default: false, help: 'stop gracefully once a batch finds no new input' },
  { name: 'quiet', kind: 'boolean', default: false, help: 'no progress line per batch' },
  { name: 'http-port', kind: 'int', help: 'serve the live dashboard and Prometheus /metrics on 127.0.0.1:<port> (0: any free port)' },
];

export const runHelp = helpText('run', 'run the sample pipeline (Ctrl-C or SIGTERM stops gracefully)', runFlags);

/** For the crash test: print where the process is and linger there, so a kill lands in that phase. */
const TRACE = process.env.MICROBATCH_TRACE === '1';
const TRACE_LINGER_MS = 15;
const tracedBatches = new Set<number>();
async function trace(phase: string, batchTime: number): Promise<void> {
  if (!TRACE) return;
  process.stdout.write(`trace ${phase} ${batchTime}\n`);
  await new Promise((r) => setTimeout(r, TRACE_LINGER_MS));
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
  const logger: Logger = createDefaultLogger({ app: o['app-id'] });
  const database = await openDatabase(sink, logger);
  const { db } = database;
  const store = openCheckpointStore(checkpoint, logger);
  try {
    await createTables(db);
    const ssc = new StreamingContext({
      appId: o['app-id'] as string,
      batchIntervalMs: o['batch-interval'] as number,
      // user_totals holds one small entry per user: snapshotting it every batch costs little and
      // spares a restart from re-reading up to ten batches to rebuild it (bench scenario 5).
      checkpointIntervalMs: o['batch-interval'] as number,
      checkpoint: store,
      stopWhenIdle: o['until-idle'] as boolean,
      logger,
      ...(o['max-records-per-partition'] ? { maxRecordsPerPartition: o['max-records-per-partition'] as number } : {}),
      ...(TRACE
        ? {
            atProtocolPoint: async (point, { batchTime }) => {
              if (point === 'plan:before-write') await trace('planning', batchTime);
              if (point === 'output:after') await trace('between-output-and-checkpoint', batchTime);
            },
          }
        : {}),
    });
    const rejections = new BatchRejections(logger);
    buildPipeline(inputStream(ssc, input, rejections), db, {
      insideOutputTransaction: async (batchTime) => {
        // Once per batch: the first partition's transaction is open, others may have committed.
        if (!TRACE || tracedBatches.has(batchTime)) return;
        tracedBatches.add(batchTime);
        await trace('output', batchTime);
      },
    });
    let batches = 0;
    let records = 0;
    const started = Date.now();
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
    let dashboard: ServedDashboard | undefined;
    if (o['http-port'] !== undefined) {
      const metrics = createPrometheusMetrics();
      ssc.addListener(metrics.listener);
      dashboard = await serveDashboard({ context: ssc, registry: metrics.registry, port: o['http-port'] as number });
      write(`dashboard at ${dashboard.url} (Prometheus metrics at ${dashboard.url}metrics)`);
    }
    try {
      await ssc.start();
      await ssc.awaitTermination();
    } finally {
      if (live) write('');
      await dashboard?.close();
    }
    const seconds = (Date.now() - started) / 1000;
    write(`\ndone: ${batches} batches, ${records} records in ${seconds.toFixed(1)} s (${Math.round(records / Math.max(seconds, 0.001))} records/s)`);
    write(formatTotals(await readTotals(db)));
    return 0;
  } finally {
    await store.close();
    await database.close();
  }
}
