import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  StreamingContext,
  StreamingGroup,
  type AssignmentHandlers,
  createMemoryCheckpointStore,
  createVirtualClock,
  isMicrobatchError,
  silentLogger,
  type RejectedRecords,
  type Source,
} from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';
import { Gauge, Registry, register as globalRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createPrometheusMetrics, metricsHandler, type PrometheusMetricsOptions } from '../src/index.js';

const START = 1_700_000_000_000;
const uniqueAppId = () => `metrics-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

/** The generator, plus one rejected record reported per read, as a Kafka source reports bad payloads. */
function rejectingSource(name: string): Source<number> {
  const inner = createGeneratorSource({ name, partitions: 2, recordsPerPartition: 10, maxRecordsPerPartition: 4, generate: ({ offset }) => offset });
  let report: ((event: RejectedRecords) => void) | undefined;
  return {
    ...inner,
    async open(context) {
      report = context.reportRejected;
      await inner.open?.(context);
    },
    async read(range, context) {
      const records = await inner.read(range, context);
      if (range.until > range.from) report?.({ source: name, reason: 'deserialization', action: 'skipped', count: 1, partition: range.partition });
      return records;
    },
  };
}

interface Run {
  ssc: StreamingContext;
  /** Metrics as the first batch's output saw them (lag is set when a batch is planned). */
  duringFirstBatch: MetricObjectWithValues<MetricValue<string>>[];
}

/** 2 partitions x 10 records, 4 per partition per batch: batches of 8, 8, 4, then an idle one. The second batch fails once. */
async function runPipeline(registry: Registry, labels?: Record<string, string>): Promise<Run> {
  const metrics = createPrometheusMetrics({ registry, ...(labels ? { labels } : {}) });
  const ssc = new StreamingContext({
    appId: uniqueAppId(),
    batchIntervalMs: 1000,
    checkpoint: createMemoryCheckpointStore(),
    clock: createVirtualClock(START),
    stopWhenIdle: true,
    stopOnSignals: false,
    retryBackoffMs: 0,
    logger: silentLogger,
  });
  ssc.addListener(metrics.listener);
  let outputs = 0;
  let duringFirstBatch: Run['duringFirstBatch'] = [];
  ssc.source(rejectingSource('gen')).foreachBatch(
    async (batch) => {
      await batch.count();
      outputs++;
      if (outputs === 1) duringFirstBatch = (await registry.getMetricsAsJSON()) as Run['duringFirstBatch'];
      if (outputs === 2) throw new Error('the database said no');
    },
    { name: 'out' },
  );
  await ssc.start();
  await ssc.awaitTermination();
  return { ssc, duringFirstBatch };
}

/** Samples named `name`; a histogram's samples are named <histogram>_bucket, _sum and _count. */
async function values(registry: Registry | MetricObjectWithValues<MetricValue<string>>[], name: string): Promise<Array<MetricValue<string>>> {
  const all = Array.isArray(registry) ? registry : ((await registry.getMetricsAsJSON()) as MetricObjectWithValues<MetricValue<string>>[]);
  const samples = all.flatMap((m) => m.values.filter((v) => ((v as { metricName?: string }).metricName ?? m.name) === name));
  if (samples.length === 0) throw new Error(`no samples of ${name}`);
  return samples;
}

async function value(registry: Registry, name: string, labels: Record<string, string | number> = {}): Promise<number | undefined> {
  return (await values(registry, name)).find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l) && Object.keys(v.labels).length >= Object.keys(labels).length)?.value;
}

describe('createPrometheusMetrics', () => {
  it('counts batches, records, failures and rejections, and times batches, checkpoints and outputs of a real pipeline', async () => {
    const registry = new Registry();
    const { ssc, duringFirstBatch } = await runPipeline(registry);

    expect(await value(registry, 'microbatch_batches_completed_total')).toBe(4);
    expect(await value(registry, 'microbatch_batches_failed_total', { will_retry: 'true' })).toBe(1);
    expect(await value(registry, 'microbatch_records_in_total', { source: 'gen' })).toBe(20);
    // One rejection per non-empty read: 2 partitions x 3 batches, plus the failed attempt's 2 reads.
    expect(await value(registry, 'microbatch_records_rejected_total', { source: 'gen', reason: 'deserialization', action: 'skipped' })).toBe(8);
    expect(await value(registry, 'microbatch_batch_processing_seconds_count')).toBe(4);
    expect(await value(registry, 'microbatch_batch_scheduling_delay_seconds_count')).toBe(4);
    expect(await value(registry, 'microbatch_batch_total_delay_seconds_count')).toBe(4);
    expect(await value(registry, 'microbatch_output_operation_seconds_count', { output: 'out', status: 'success' })).toBe(4);
    expect(await value(registry, 'microbatch_output_operation_seconds_count', { output: 'out', status: 'error' })).toBe(1);
    // A plan write per batch and the final completion write of the graceful stop.
    expect(await value(registry, 'microbatch_checkpoint_write_seconds_count')).toBe(5);
    expect(await value(registry, 'microbatch_epoch')).toBe(ssc.epoch);
    expect(await value(registry, 'microbatch_last_completed_batch_timestamp_seconds')).toBe((START + 3000) / 1000);
    expect(await value(registry, 'microbatch_streaming_active')).toBe(0);
    // A single context's series carry no task label.
    expect((await values(registry, 'microbatch_batches_completed_total'))[0]!.labels).toEqual({});

    // Lag is latest minus planned offset: after the first batch (4 of 10), 6 per partition; at the end, 0.
    const lagThen = await values(duringFirstBatch, 'microbatch_source_lag_records');
    expect(lagThen.map((v) => [v.labels.partition, v.value]).sort()).toEqual([['0', 6], ['1', 6]]);
    expect(await value(registry, 'microbatch_source_lag_records', { source: 'gen', partition: '0' })).toBe(0);
    expect((await values(duringFirstBatch, 'microbatch_streaming_active'))[0]?.value).toBe(1);
  });

  it('labels each task of a group member with task="N", counts rebalances and stops, and drops a revoked task\'s lag', async () => {
    const registry = new Registry();
    const metrics = createPrometheusMetrics({ registry, labels: { app: 'g' } });
    let handlers!: AssignmentHandlers;
    const group = new StreamingGroup({
      appId: uniqueAppId(),
      coordinator: { kind: 'by-hand', start: async (h) => ((handlers = h), h.assigned([0, 1])), stop: async () => {} },
      logger: silentLogger,
      stopOnSignals: false,
      context: { batchIntervalMs: 20, checkpoint: createMemoryCheckpointStore(), retryBackoffMs: 0 },
      build: (ssc) =>
        ssc
          .source(createGeneratorSource({ name: 'gen', partitions: 2, recordsPerPartition: (p) => 10 + p * 4, maxRecordsPerPartition: 4, generate: ({ offset }) => offset }))
          .foreachBatch(async (batch) => void (await batch.count()), { name: 'out' }),
    });
    group.addListener(metrics.groupListener);
    await group.start();
    // Each task read its own partition: 10 records for task 0, 14 for task 1.
    await expect.poll(() => value(registry, 'microbatch_records_in_total', { task: '1', source: 'gen' })).toBe(14);
    await expect.poll(() => value(registry, 'microbatch_records_in_total', { task: '0', source: 'gen' })).toBe(10);
    expect(await value(registry, 'microbatch_group_tasks_owned', { app: 'g' })).toBe(2);
    expect(await value(registry, 'microbatch_epoch', { task: '0' })).toBe(1);
    const lagTasks = (await values(registry, 'microbatch_source_lag_records')).map((v) => [v.labels.task, v.labels.partition]).sort();
    expect(lagTasks).toEqual([['0', '0'], ['1', '1']]);

    handlers.assigned([1]); // a rebalance takes task 0 away
    await expect.poll(() => value(registry, 'microbatch_group_task_stops_total', { reason: 'revoked' })).toBe(1);
    expect(await value(registry, 'microbatch_group_rebalances_total')).toBe(1);
    expect(await value(registry, 'microbatch_group_tasks_owned')).toBe(1);
    expect(await value(registry, 'microbatch_streaming_active', { task: '0' })).toBe(0);
    expect(await value(registry, 'microbatch_streaming_active', { task: '1' })).toBe(1);
    // Another member reports task 0's lag now.
    expect((await values(registry, 'microbatch_source_lag_records')).map((v) => v.labels.task)).toEqual(['1']);
    await group.stop();
    expect(await value(registry, 'microbatch_group_task_stops_total', { reason: 'stopped' })).toBe(1);
  });

  it('uses a registry of its own by default, never the global one', async () => {
    const before = (await globalRegistry.getMetricsAsJSON()).length;
    const metrics = createPrometheusMetrics();
    expect(metrics.registry).not.toBe(globalRegistry);
    expect(await metrics.registry.getSingleMetric('microbatch_batches_completed_total')).toBeDefined();
    expect((await globalRegistry.getMetricsAsJSON()).length).toBe(before);
  });

  it('lets two contexts share a registry under distinct constant labels, with a custom prefix', async () => {
    const registry = new Registry();
    const custom = createPrometheusMetrics({ registry, prefix: 'shop_', labels: { app: 'x' } });
    expect(registry.getSingleMetric('shop_batches_completed_total')).toBeDefined();
    custom.listener.onBatchCompleted?.({ batchTime: 5000, inputRecords: { s: 3 }, numRecords: 3, offsetRanges: [], replay: false, attempt: 1, submissionTime: 5000 });
    await runPipeline(registry, { app: 'a' });
    await runPipeline(registry, { app: 'b' });
    expect(await value(registry, 'microbatch_batches_completed_total', { app: 'a' })).toBe(4);
    expect(await value(registry, 'microbatch_batches_completed_total', { app: 'b' })).toBe(4);
    expect(await value(registry, 'microbatch_records_in_total', { app: 'b', source: 'gen' })).toBe(20);
    expect(await value(registry, 'shop_records_in_total', { app: 'x', source: 's' })).toBe(3);
    // Same names with another label set cannot share the registry.
    expect(() => createPrometheusMetrics({ registry, labels: { team: 't' } })).toThrow(/other labels/);
  });

  it('rejects bad options with INVALID_OPTION', () => {
    const bad: PrometheusMetricsOptions[] = [
      { prefix: 'no-dashes' },
      { labels: { source: 'x' } },
      { labels: { 'bad-name': 'x' } },
      { labels: { app: 3 as unknown as string } },
      { buckets: [1, 0.5] },
      { buckets: [] },
      { registry: {} as Registry },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        createPrometheusMetrics(options);
      } catch (error) {
        thrown = error;
      }
      expect(isMicrobatchError(thrown, 'INVALID_OPTION'), JSON.stringify(options)).toBe(true);
    }
  });
});

describe('metricsHandler', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function serve(registry: Registry): Promise<string> {
    server = createServer(metricsHandler(registry));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  }

  it('serves the registry in the Prometheus text format over real HTTP', async () => {
    const registry = new Registry();
    await runPipeline(registry);
    const url = await serve(registry);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    const text = await response.text();
    expect(text).toContain('# TYPE microbatch_batches_completed_total counter');
    expect(text).toMatch(/^microbatch_batches_completed_total 4$/m);
    expect(text).toMatch(/^microbatch_source_lag_records\{source="gen",partition="1"\} 0$/m);
    expect(text).toMatch(/^microbatch_output_operation_seconds_bucket\{le="\+Inf",output="out",status="error"\} 1$/m);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('answers 500 with the message when collecting fails', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken',
      help: 'a gauge whose collect throws',
      registers: [registry],
      collect() {
        throw new Error('collector exploded');
      },
    });
    const url = await serve(registry);
    const response = await fetch(url);
    expect(response.status).toBe(500);
    expect(await response.text()).toContain('collector exploded');
  });
});

describe('event-time windows', () => {
  it('count late records in records_rejected_total under the operator name, with the action taken', async () => {
    const registry = new Registry();
    const metrics = createPrometheusMetrics({ registry });
    const ssc = new StreamingContext({
      appId: uniqueAppId(),
      batchIntervalMs: 1000,
      checkpoint: createMemoryCheckpointStore(),
      clock: createVirtualClock(START),
      stopWhenIdle: true,
      stopOnSignals: false,
      logger: silentLogger,
    });
    ssc.addListener(metrics.listener);
    // Event time = offset s, except offsets 5 and 7 at 0 s: after the first batches the watermark is past 0, so both are late.
    const source = createGeneratorSource({ name: 'clicks', partitions: 1, recordsPerPartition: 10, maxRecordsPerPartition: 2, generate: ({ offset }) => ({ ts: offset === 5 || offset === 7 ? 0 : offset * 1000 }) });
    ssc
      .source(source)
      .withWatermark((r) => r.ts, { delayMs: 0 })
      .map((): [string, number] => ['all', 1])
      .reduceByKeyAndEventWindow((a, b) => a + b, 2000, undefined, { name: 'per-2s', late: 'drop' })
      .foreachBatch(async (batch) => void (await batch.count()), { name: 'out' });
    await ssc.start();
    await ssc.awaitTermination();
    expect(await value(registry, 'microbatch_records_rejected_total', { source: 'per-2s', reason: 'late', action: 'dropped' })).toBe(2);
  });
});
