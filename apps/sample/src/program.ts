import { VERIFY_ENV, offerOutputCrash, type CheckpointStore, type DStream, type ProtocolPoint, type StreamingContext, type TaskContextOptions } from '@microbatch/core';
import { createPrometheusMetrics, type PrometheusMetrics } from '@microbatch/metrics';
import type { Database } from '@microbatch/sink-postgres';
import { serveDashboard, type DashboardOptions, type ServedDashboard } from '@microbatch/ui';
import type { Classified } from './events.js';
import { buildKafkaPipeline } from './kafka-outputs.js';
import { buildPipeline, inputStream, type InputSpec } from './pipeline.js';
import type { BatchRejections } from './rejections.js';
import type { KafkaSinkSpec } from './uris.js';

/** What a run (one process, or each task of a group member) is given by its flags. */
export interface RunSettings {
  readonly batchIntervalMs: number;
  readonly untilIdle: boolean;
  readonly maxRecordsPerPartition?: number;
}

/** For the crash test: print where the process is and linger there, so a kill lands in that phase. */
export const TRACE = process.env.MICROBATCH_TRACE === '1';
const TRACE_LINGER_MS = 15;
/** Under the crash test's (and microbatch-verify's) kills: outputs offer the moment for an output-phase kill. */
const VERIFY_CRASH = process.env[VERIFY_ENV.crashAt] !== undefined;

/** `trace <phase> <batchTime>`, with ` task N` in a group member: the crash test matches the start. */
async function trace(phase: string, batchTime: number, task: number | undefined): Promise<void> {
  if (!TRACE) return;
  process.stdout.write(`trace ${phase} ${batchTime}${task === undefined ? '' : ` task ${task}`}\n`);
  await new Promise((r) => setTimeout(r, TRACE_LINGER_MS));
}

/** The context options of a run, or of each task of a group member (`task`). */
export function contextOptions(settings: RunSettings, store: CheckpointStore, task?: number): TaskContextOptions {
  return {
    batchIntervalMs: settings.batchIntervalMs,
    // user_totals holds one small entry per user: snapshotting it every batch costs little and
    // spares a restart from re-reading up to ten batches to rebuild it (bench scenario 5).
    checkpointIntervalMs: settings.batchIntervalMs,
    checkpoint: store,
    stopWhenIdle: settings.untilIdle,
    ...(settings.maxRecordsPerPartition ? { maxRecordsPerPartition: settings.maxRecordsPerPartition } : {}),
    ...(TRACE
      ? {
          atProtocolPoint: async (point: ProtocolPoint, { batchTime }: { batchTime: number }) => {
            if (point === 'plan:before-write') await trace('planning', batchTime, task);
            if (point === 'output:after') await trace('between-output-and-checkpoint', batchTime, task);
          },
        }
      : {}),
  };
}

/** The sample's program on one context: the input (classified, rejections counted) into the four tables. */
export function buildProgram(ssc: StreamingContext, input: InputSpec, db: Database, rejections: BatchRejections, task?: number): DStream<Classified> {
  const classified = inputStream(ssc, input, rejections);
  buildPipeline(classified, db, { insideOutputTransaction: outputTrace(task) });
  return classified;
}

/** The same program into the four topics of `--sink kafka://host:port/PREFIX`. */
export function buildKafkaProgram(ssc: StreamingContext, input: InputSpec, spec: KafkaSinkSpec, rejections: BatchRejections): DStream<Classified> {
  const classified = inputStream(ssc, input, rejections);
  buildKafkaPipeline(classified, spec, TRACE || VERIFY_CRASH ? { insideOutputTransaction: outputTrace(undefined) } : {});
  return classified;
}

/**
 * The crash test's `output` phase, once per batch, inside its first open output transaction (others
 * may have committed): traced for the group crash test, and offered to an armed output-phase kill.
 */
function outputTrace(task: number | undefined): (batchTime: number) => Promise<void> {
  const traced = new Set<number>();
  return async (batchTime) => {
    if (VERIFY_CRASH) await offerOutputCrash();
    if (!TRACE || traced.has(batchTime)) return;
    traced.add(batchTime);
    await trace('output', batchTime, task);
  };
}

/** `--http-port`: the dashboard and /metrics; `attach` hooks the metrics up and says what the dashboard shows. */
export async function serveRunDashboard(port: number | undefined, attach: (metrics: PrometheusMetrics) => DashboardOptions, write: (line: string) => void): Promise<ServedDashboard | undefined> {
  if (port === undefined) return undefined;
  const metrics = createPrometheusMetrics();
  const dashboard = await serveDashboard({ ...attach(metrics), registry: metrics.registry, port });
  write(`dashboard at ${dashboard.url} (Prometheus metrics at ${dashboard.url}metrics)`);
  return dashboard;
}
