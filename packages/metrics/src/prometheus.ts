import type { GroupListener, StreamingListener } from '@microbatch/core';
import { invalidOption } from '@microbatch/core';
import { Registry } from 'prom-client';
import { TASK_LABEL, defineMetrics, type Metrics } from './definitions.js';

export interface PrometheusMetricsOptions {
  /** Where the metrics are registered. Default: a new Registry (never prom-client's global one). */
  registry?: Registry;
  /** Prefix of every metric name. Default `microbatch_`. */
  prefix?: string;
  /** Constant labels on every series, e.g. `{ app: 'orders' }` to tell two contexts apart in one registry. Default none. */
  labels?: Record<string, string>;
  /** Buckets (seconds) of the duration histograms. Default 5 ms ... 2 min. */
  buckets?: number[];
}

export interface PrometheusMetrics {
  /** Attach with `ssc.addListener(metrics.listener)`. */
  readonly listener: StreamingListener;
  /**
   * For a group member: `group.addListener(metrics.groupListener)`. Each task's context gets a
   * listener whose series carry `task="N"`, and the member's assignments feed the
   * `group_*` metrics. A task that stops here has its lag series removed (another member
   * reports it now) and `streaming_active{task}` set to 0.
   */
  readonly groupListener: GroupListener;
  readonly registry: Registry;
}

export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Label names the metrics use themselves; a constant label may not take one. */
const RESERVED = new Set([TASK_LABEL, 'source', 'partition', 'output', 'status', 'reason', 'action', 'will_retry', 'le', 'quantile']);

/**
 * Prometheus metrics fed by the context's listener events. Several contexts may share one registry
 * when each has distinct `labels`: the second call finds the metrics the first registered.
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const registry = options.registry ?? new Registry();
  // Duck-typed: a registry from another copy of prom-client fails instanceof but works.
  if (typeof registry?.registerMetric !== 'function' || typeof registry.getSingleMetric !== 'function') {
    throw invalidOption('registry', 'must be a prom-client Registry', registry);
  }
  const prefix = options.prefix ?? 'microbatch_';
  if (prefix !== '' && !NAME.test(prefix)) throw invalidOption('prefix', 'must match [a-zA-Z_:][a-zA-Z0-9_:]*', prefix);
  const labels = options.labels ?? {};
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL.test(name) || name.startsWith('__') || RESERVED.has(name)) {
      throw invalidOption('labels', `"${name}" is not a usable label name (reserved: ${[...RESERVED].join(', ')})`, name);
    }
    if (typeof value !== 'string') throw invalidOption('labels', `the value of "${name}" must be a string`, value);
  }
  const buckets = options.buckets ?? DEFAULT_BUCKETS;
  if (!Array.isArray(buckets) || buckets.length === 0 || !buckets.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > buckets[i - 1]!))) {
    throw invalidOption('buckets', 'must be a non-empty increasing list of positive numbers (seconds)', buckets);
  }
  const metrics = defineMetrics(registry, prefix, Object.keys(labels), buckets);
  return { listener: listenerFor(metrics, labels), groupListener: groupListenerFor(metrics, labels), registry };
}

function groupListenerFor(m: Metrics, base: Record<string, string>): GroupListener {
  let assignments = 0;
  /** Per task, the lag series it set, so they go when the task moves to another member. */
  const lagSeries = new Map<number, Array<Record<string, string>>>();
  return {
    onAssignment({ tasks }) {
      if (assignments++ > 0) m.rebalances.inc(base);
      m.tasksOwned.set(base, tasks.length);
    },
    onTaskStopped({ task, reason }) {
      m.taskStops.inc({ ...base, reason });
      for (const labels of lagSeries.get(task) ?? []) m.lag.remove(labels);
      lagSeries.delete(task);
    },
    forTask(task) {
      const labels = { ...base, [TASK_LABEL]: String(task) };
      const series = new Map<string, Record<string, string>>();
      lagSeries.set(task, []);
      const inner = listenerFor(m, labels);
      return {
        ...inner,
        onBatchSubmitted(info) {
          inner.onBatchSubmitted!(info);
          for (const [source, partitions] of Object.entries(info.lag ?? {})) {
            for (const partition of Object.keys(partitions)) series.set(`${source}\u0000${partition}`, { ...labels, source, partition });
          }
          lagSeries.set(task, [...series.values()]);
        },
      };
    },
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.max(0, ms) / 1000);

function listenerFor(m: Metrics, base: Record<string, string>): StreamingListener {
  const observe = (histogram: Metrics['processing'], ms: number | undefined, extra: Record<string, string> = {}) => {
    const value = seconds(ms);
    if (value !== undefined) histogram.observe({ ...base, ...extra }, value);
  };
  return {
    onStreamingStarted(event) {
      m.epoch.set(base, event.epoch);
      m.active.set(base, 1);
    },
    onBatchSubmitted(info) {
      // Lag is measured when a batch is planned (replays carry none).
      for (const [source, partitions] of Object.entries(info.lag ?? {})) {
        for (const [partition, lag] of Object.entries(partitions)) m.lag.set({ ...base, source, partition }, lag);
      }
    },
    onBatchCompleted(info) {
      m.completed.inc(base);
      for (const [source, count] of Object.entries(info.inputRecords)) m.recordsIn.inc({ ...base, source }, count);
      observe(m.processing, info.processingDelay);
      observe(m.scheduling, info.schedulingDelay);
      observe(m.total, info.totalDelay);
      m.lastBatch.set(base, info.batchTime / 1000);
    },
    onBatchFailed(event) {
      m.failed.inc({ ...base, will_retry: String(event.willRetry) });
    },
    onOutputOperationCompleted(info) {
      observe(m.output, info.durationMs, { output: info.name, status: info.error === undefined ? 'success' : 'error' });
    },
    onCheckpointWritten(event) {
      observe(m.checkpoint, event.durationMs);
      m.epoch.set(base, event.epoch);
    },
    onRecordsRejected(event) {
      m.rejected.inc({ ...base, source: event.source, reason: event.reason, action: event.action }, event.count);
    },
    onStreamingStopped() {
      m.active.set(base, 0);
    },
  };
}
