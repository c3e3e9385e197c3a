import { MicrobatchError } from '@microbatch/core';
import { Counter, Gauge, Histogram, type Metric, type Registry } from 'prom-client';

export interface Metrics {
  readonly completed: Counter;
  readonly failed: Counter;
  readonly recordsIn: Counter;
  readonly rejected: Counter;
  readonly processing: Histogram;
  readonly scheduling: Histogram;
  readonly total: Histogram;
  readonly checkpoint: Histogram;
  readonly output: Histogram;
  readonly lag: Gauge;
  readonly epoch: Gauge;
  readonly lastBatch: Gauge;
  readonly active: Gauge;
  readonly tasksOwned: Gauge;
  readonly rebalances: Counter;
  readonly taskStops: Counter;
}

/**
 * The label a group member's per-task series carry (`groupListener`); a single context's series
 * leave it out, as prom-client omits a label no value was given for.
 */
export const TASK_LABEL = 'task';

/** Every metric, its help text and its own labels: the README's table is this list. */
export function defineMetrics(registry: Registry, prefix: string, constant: string[], buckets: number[]): Metrics {
  const def = <M extends Metric>(Kind: new (config: never) => M, name: string, help: string, labels: string[] = [], extra: object = {}): M => {
    const fullName = `${prefix}${name}`;
    const labelNames = [...constant, TASK_LABEL, ...labels];
    const existing = registry.getSingleMetric(fullName);
    if (existing) return reuse(existing, Kind, fullName, labelNames);
    return new Kind({ name: fullName, help, labelNames, registers: [registry], ...extra } as never);
  };
  const histogram = (name: string, help: string, labels: string[] = []) => def(Histogram, name, help, labels, { buckets });
  return {
    completed: def(Counter, 'batches_completed_total', 'Batches whose outputs all succeeded.'),
    failed: def(Counter, 'batches_failed_total', 'Failed batch attempts; will_retry="false" means the batch failed for good and the context stopped.', ['will_retry']),
    recordsIn: def(Counter, 'records_in_total', 'Records read by completed batches, per source.', ['source']),
    rejected: def(Counter, 'records_rejected_total', 'Records a source rejected (e.g. undeserializable), per source, reason and action taken.', ['source', 'reason', 'action']),
    processing: histogram('batch_processing_seconds', 'Processing time of completed batches (processing end minus start).'),
    scheduling: histogram('batch_scheduling_delay_seconds', 'How long completed batches waited to start (processing start minus batch time).'),
    total: histogram('batch_total_delay_seconds', 'Processing end minus batch time, per completed batch.'),
    checkpoint: histogram('checkpoint_write_seconds', 'Latency of checkpoint writes (including retries).'),
    output: histogram('output_operation_seconds', 'Duration of each output operation (sink write and commit), per output and status.', ['output', 'status']),
    lag: def(Gauge, 'source_lag_records', 'Records available beyond the newest planned batch, per source partition (latest minus planned offset).', ['source', 'partition']),
    epoch: def(Gauge, 'epoch', 'The epoch this process holds for the application.'),
    lastBatch: def(Gauge, 'last_completed_batch_timestamp_seconds', 'Batch time of the newest completed batch, in Unix seconds.'),
    active: def(Gauge, 'streaming_active', '1 while the context runs, 0 once it stopped.'),
    tasksOwned: def(Gauge, 'group_tasks_owned', 'Tasks this group member runs now (after its newest assignment).'),
    rebalances: def(Counter, 'group_rebalances_total', 'Assignments this member received after its first one: each is a rebalance of the group.'),
    taskStops: def(Counter, 'group_task_stops_total', "Tasks this member stopped running, per reason ('revoked', 'fenced', 'idle', 'stopped', 'failed').", ['reason']),
  };
}

function reuse<M extends Metric>(existing: Metric, Kind: new (config: never) => M, name: string, labelNames: string[]): M {
  const theirs = [...((existing as unknown as { labelNames?: string[] }).labelNames ?? [])].sort();
  if (!(existing instanceof Kind) || theirs.join() !== [...labelNames].sort().join()) {
    throw new MicrobatchError('INVALID_OPTION', `The registry already has a metric "${name}" of another type or with other labels (${theirs.join(', ')})`, {
      details: { option: 'registry', metric: name, labels: theirs },
    });
  }
  return existing;
}
