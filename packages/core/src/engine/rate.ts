/**
 * Backpressure, as Spark's PIDRateEstimator: after each batch, compare the rate it was processed
 * at with the current ingest rate and steer the rate toward what the pipeline sustains.
 */
export interface BackpressureOptions {
  /** Records/s for the first batches, before any estimate exists. Default: no limit. */
  initialRate?: number;
  /** Floor of the estimated rate, records/s. Default 100. */
  minRate?: number;
  /** PID gains. Defaults 1.0, 0.2, 0.0 (Spark's). */
  proportional?: number;
  integral?: number;
  derivative?: number;
}

export class PidRateEstimator {
  private firstRun = true;
  private latestTime = -1;
  private latestRate = -1;
  private latestError = -1;
  private readonly kp: number;
  private readonly ki: number;
  private readonly kd: number;
  private readonly minRate: number;

  constructor(
    private readonly batchIntervalMs: number,
    options: BackpressureOptions = {},
  ) {
    this.kp = options.proportional ?? 1.0;
    this.ki = options.integral ?? 0.2;
    this.kd = options.derivative ?? 0.0;
    this.minRate = options.minRate ?? 100;
  }

  /** Returns the new rate (records/s), or undefined when there is not enough information yet. */
  compute(time: number, numRecords: number, processingDelayMs: number, schedulingDelayMs: number): number | undefined {
    if (!(time > this.latestTime && numRecords > 0 && processingDelayMs > 0)) return undefined;
    const delaySinceUpdate = (time - this.latestTime) / 1000;
    const processingRate = (numRecords / processingDelayMs) * 1000;
    const error = this.latestRate - processingRate;
    const historicalError = (schedulingDelayMs * processingRate) / this.batchIntervalMs;
    const dError = (error - this.latestError) / delaySinceUpdate;
    const newRate = Math.max(this.latestRate - this.kp * error - this.ki * historicalError - this.kd * dError, this.minRate);
    this.latestTime = time;
    if (this.firstRun) {
      this.latestRate = processingRate;
      this.latestError = 0;
      this.firstRun = false;
      return undefined;
    }
    this.latestRate = newRate;
    this.latestError = error;
    return newRate;
  }
}

/**
 * Per-partition caps for one batch: the static cap, further limited by a budget of records for
 * the whole batch (the rate times the interval, and the batch cap) split over partitions in
 * proportion to their lag, so a lagging partition is not starved. At least 1 record per lagging
 * partition, so progress never stops. The budget only binds when the lag exceeds it.
 */
export function partitionCaps(lags: Readonly<Record<string, number>>, staticCap: number | undefined, budget: number): Record<string, number> {
  const caps: Record<string, number> = {};
  const capped = (lag: number) => (staticCap === undefined ? Math.max(0, lag) : Math.min(Math.max(0, lag), staticCap));
  const totalLag = Object.values(lags).reduce((a, b) => a + Math.max(0, b), 0);
  const wanted = Object.values(lags).reduce((a, b) => a + capped(b), 0);
  for (const [partition, lag] of Object.entries(lags)) {
    let cap = capped(lag);
    if (wanted > budget && totalLag > 0) cap = Math.min(cap, Math.max(1, Math.floor((budget * Math.max(0, lag)) / totalLag)));
    caps[partition] = cap;
  }
  return caps;
}
