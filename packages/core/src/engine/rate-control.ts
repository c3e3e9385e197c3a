import type { StreamGraph } from '../dstream/graph.js';
import type { BatchInfo } from './listener.js';
import type { ResolvedOptions } from './options.js';
import { PidRateEstimator } from './rate.js';

/**
 * What limits the size of new batches, per source: backpressure's estimated rate (Spark's PID
 * estimator, §7) and the static caps. Only shapes new plans; a logged plan is never changed.
 */
export class RateControl {
  private readonly estimators = new Map<string, PidRateEstimator>();
  private readonly rates = new Map<string, number | undefined>();

  constructor(
    private readonly options: Pick<ResolvedOptions, 'backpressure' | 'batchIntervalMs' | 'maxRecordsPerPartition' | 'maxRecordsPerBatch'>,
    private readonly graph: StreamGraph,
  ) {}

  /** Records/s for the next plan of a source: the estimate, or before one exists initialRate (which caps the first batch too). */
  rateOf(source: string): number | undefined {
    return this.rates.get(source) ?? this.options.backpressure?.initialRate;
  }

  /** Feeds a completed batch to the estimators. */
  update(info: BatchInfo): void {
    const { backpressure, batchIntervalMs } = this.options;
    if (!backpressure || info.processingDelay === undefined) return;
    for (const [name, records] of Object.entries(info.inputRecords)) {
      let estimator = this.estimators.get(name);
      if (!estimator) this.estimators.set(name, (estimator = new PidRateEstimator(batchIntervalMs, backpressure)));
      const rate = estimator.compute(info.batchTime, records, info.processingDelay, info.schedulingDelay ?? 0);
      if (rate !== undefined) this.rates.set(name, rate);
      else if (!this.rates.has(name)) this.rates.set(name, backpressure.initialRate);
    }
  }

  /** The per-partition cap of a source's ranges, when set (the source's own wins). */
  capOf(source: string): number | undefined {
    return this.graph.sources.get(source)?.maxRecordsPerPartition ?? this.options.maxRecordsPerPartition;
  }

  /**
   * The per-partition cap the planner applies to a source when nothing else limits it: neither
   * backpressure nor the batch cap, which split a budget by lag and so depend on what arrives.
   * Read-ahead relies on it to know the next ranges before they are planned.
   */
  certainCapOf(source: string, partitions: number): number | undefined {
    if (this.options.backpressure) return undefined;
    const cap = this.capOf(source);
    return cap !== undefined && cap * partitions <= this.options.maxRecordsPerBatch ? cap : undefined;
  }
}
