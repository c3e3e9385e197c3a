import { redactString, type AppDescription, type BatchInfo, type ContextState, type StreamingContext, type StreamingListener } from '@microbatch/core';

export type BatchStatus = 'queued' | 'running' | 'retrying' | 'completed' | 'failed';

/** One row of the batch table; delays in ms, times in epoch ms. */
export interface BatchRow {
  readonly batchTime: number;
  readonly numRecords: number;
  readonly inputRecords: Readonly<Record<string, number>>;
  /** Records per second: the batch's records over one batch interval, as Spark shows it. */
  readonly inputRate: number;
  readonly schedulingDelay?: number;
  readonly processingDelay?: number;
  readonly totalDelay?: number;
  readonly attempt: number;
  readonly status: BatchStatus;
  readonly replay: boolean;
  /** Message (with causes, secrets redacted) of the newest failed attempt. */
  readonly error?: string;
}

/** Everything but the batch rows; small, so it is sent whole on every change. */
export interface DashboardMeta {
  readonly status: ContextState;
  readonly epoch?: number;
  readonly startedAt?: number;
  readonly stoppedAt?: number;
  /** Why the context stopped, when an error stopped it. */
  readonly stopError?: string;
  /** Per source, per partition: records beyond the newest planned batch. */
  readonly lag: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly lastCheckpoint?: { readonly seq: number; readonly batchTime: number; readonly durationMs: number };
  readonly rejected: ReadonlyArray<{ readonly source: string; readonly reason: string; readonly action: string; readonly count: number }>;
  /** `rejected`: every record in `rejected` above, so the header shows one count whatever the reasons. */
  readonly totals: { readonly completed: number; readonly failedAttempts: number; readonly records: number; readonly rejected: number };
}

export interface DashboardSnapshot extends DashboardMeta {
  readonly app: AppDescription;
  readonly historySize: number;
  /** Oldest first, at most `historySize`. */
  readonly batches: readonly BatchRow[];
}

export type DashboardChange = { readonly kind: 'batch'; readonly row: BatchRow } | { readonly kind: 'meta'; readonly meta: DashboardMeta };

/** The error's message and the messages of its causes, as one redacted line. */
export function errorText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (!parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return redactString(parts.join(': '));
}

/**
 * What the dashboard shows, kept up to date by listener events. Every change is handed to
 * `onChange` (the SSE broadcaster) as it happens.
 */
export class DashboardState {
  private readonly rows = new Map<number, BatchRow>();
  private meta: Omit<DashboardMeta, 'status'> = { lag: {}, rejected: [], totals: { completed: 0, failedAttempts: 0, records: 0, rejected: 0 } };
  readonly listener: StreamingListener;

  constructor(
    private readonly context: StreamingContext,
    private readonly historySize: number,
    private readonly onChange: (change: DashboardChange) => void,
  ) {
    this.listener = {
      onStreamingStarted: (e) => this.setMeta({ epoch: e.epoch, startedAt: e.time, stoppedAt: undefined, stopError: undefined }),
      onBatchSubmitted: (info) => {
        this.setRow(info, 'queued');
        if (info.lag) this.setMeta({ lag: info.lag });
      },
      onBatchStarted: (info) => this.setRow(info, 'running'),
      onBatchCompleted: (info) => {
        this.setRow(info, 'completed');
        const { totals } = this.meta;
        this.setMeta({ totals: { ...totals, completed: totals.completed + 1, records: totals.records + info.numRecords } });
      },
      onBatchFailed: ({ info, error, willRetry }) => {
        this.setRow(info, willRetry ? 'retrying' : 'failed', errorText(error));
        const { totals } = this.meta;
        this.setMeta({ totals: { ...totals, failedAttempts: totals.failedAttempts + 1 } });
      },
      onCheckpointWritten: (e) => this.setMeta({ lastCheckpoint: { seq: e.seq, batchTime: e.batchTime, durationMs: e.durationMs } }),
      onRecordsRejected: (e) => {
        const rejected = [...this.meta.rejected];
        const index = rejected.findIndex((r) => r.source === e.source && r.reason === e.reason && r.action === e.action);
        const count = (index >= 0 ? rejected[index]!.count : 0) + e.count;
        const entry = { source: e.source, reason: e.reason, action: e.action, count };
        if (index >= 0) rejected[index] = entry;
        else rejected.push(entry);
        this.setMeta({ rejected, totals: { ...this.meta.totals, rejected: this.meta.totals.rejected + e.count } });
      },
      onStreamingStopped: (e) => this.setMeta({ stoppedAt: e.time, ...(e.error === undefined ? {} : { stopError: errorText(e.error) }) }),
    };
  }

  snapshot(): DashboardSnapshot {
    return { app: this.context.description, historySize: this.historySize, ...this.currentMeta(), batches: [...this.rows.values()].sort((a, b) => a.batchTime - b.batchTime) };
  }

  private currentMeta(): DashboardMeta {
    // The context's own status is the truth (e.g. 'stopping' has no event).
    return { status: this.context.status, epoch: this.context.epoch, ...this.meta };
  }

  private setMeta(patch: Partial<Omit<DashboardMeta, 'status'>>): void {
    this.meta = { ...this.meta, ...patch };
    this.onChange({ kind: 'meta', meta: this.currentMeta() });
  }

  private setRow(info: BatchInfo, status: BatchStatus, error?: string): void {
    const previous = this.rows.get(info.batchTime);
    const row: BatchRow = {
      batchTime: info.batchTime,
      numRecords: info.numRecords,
      inputRecords: info.inputRecords,
      inputRate: (info.numRecords * 1000) / this.context.batchIntervalMs,
      attempt: info.attempt,
      status,
      replay: info.replay,
      ...(info.schedulingDelay === undefined ? {} : { schedulingDelay: info.schedulingDelay }),
      ...(info.processingDelay === undefined ? {} : { processingDelay: info.processingDelay }),
      ...(info.totalDelay === undefined ? {} : { totalDelay: info.totalDelay }),
      // A retried batch keeps showing why its earlier attempt failed.
      ...(error ?? previous?.error ? { error: error ?? previous?.error } : {}),
    };
    // Batches run in time order, so new rows arrive last and the oldest row is the first key.
    this.rows.set(info.batchTime, row);
    while (this.rows.size > this.historySize) this.rows.delete(this.rows.keys().next().value!);
    if (this.rows.has(info.batchTime)) this.onChange({ kind: 'batch', row });
  }
}
