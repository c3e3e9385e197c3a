import { redactString, type AppDescription, type BatchInfo, type ContextState, type StreamingListener } from '@microbatch/core';
import type { GroupView } from './group-state.js';

export type BatchStatus = 'queued' | 'running' | 'retrying' | 'completed' | 'failed';

/** One row of the batch table; delays in ms, times in epoch ms. */
export interface BatchRow {
  readonly batchTime: number;
  /** The task that ran the batch, on a group member's dashboard; absent for a single context. */
  readonly task?: number;
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
  /** On a group member's dashboard: the tasks it owns, rebalances, and per task its state, epoch and lag. */
  readonly group?: GroupView;
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

/** What the dashboard shows: a context, or a group member (its tasks' contexts come and go). */
export interface DashboardSubject {
  readonly description: AppDescription;
  readonly status: ContextState;
  /** A context's epoch; a group member's tasks each have their own (in `group`). */
  readonly epoch: number | undefined;
  readonly batchIntervalMs: number;
  /** A group member's view, when the subject is one. */
  readonly group?: () => GroupView;
}

/**
 * What the dashboard shows, kept up to date by listener events. Every change is handed to
 * `onChange` (the SSE broadcaster) as it happens. A single context has one listener
 * (`listener`); a group member gives each task's context `listenerFor(task)`, and its rows,
 * lag and epochs are per task.
 */
export class DashboardState {
  private readonly rows = new Map<string, BatchRow>();
  /** Lag per task (undefined: a single context), merged into `meta.lag`: partitions never overlap between tasks. */
  private readonly lagByTask = new Map<number | undefined, BatchInfo['lag'] & object>();
  private meta: Omit<DashboardMeta, 'status'> = { lag: {}, rejected: [], totals: { completed: 0, failedAttempts: 0, records: 0, rejected: 0 } };
  readonly listener: StreamingListener;

  constructor(
    private readonly subject: DashboardSubject,
    private readonly historySize: number,
    private readonly onChange: (change: DashboardChange) => void,
  ) {
    this.listener = this.listenerFor(undefined);
  }

  /** The listener for one task's context (or, with `undefined`, the single context's). */
  listenerFor(task: number | undefined): StreamingListener {
    return {
      onStreamingStarted: (e) =>
        this.setMeta({
          ...(task === undefined ? { epoch: e.epoch } : {}),
          startedAt: task === undefined ? e.time : (this.meta.startedAt ?? e.time),
          stoppedAt: undefined,
          stopError: undefined,
        }),
      onBatchSubmitted: (info) => {
        this.setRow(info, 'queued', undefined, task);
        if (info.lag) this.setLag(task, info.lag);
      },
      onBatchStarted: (info) => this.setRow(info, 'running', undefined, task),
      onBatchCompleted: (info) => {
        this.setRow(info, 'completed', undefined, task);
        const { totals } = this.meta;
        this.setMeta({ totals: { ...totals, completed: totals.completed + 1, records: totals.records + info.numRecords } });
      },
      onBatchFailed: ({ info, error, willRetry }) => {
        this.setRow(info, willRetry ? 'retrying' : 'failed', errorText(error), task);
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
      onStreamingStopped: (e) => {
        // A group member's task that stops here (revoked, fenced, idle) leaves the member running:
        // its lag is another member's to show now, and only the member's own stop is a stop.
        if (task !== undefined) this.dropLag(task);
        else this.setMeta({ stoppedAt: e.time, ...(e.error === undefined ? {} : { stopError: errorText(e.error) }) });
      },
    };
  }

  /** A group member stopped (with the error that stopped it, if any). */
  stopped(time: number, error?: unknown): void {
    this.setMeta({ stoppedAt: time, ...(error === undefined ? {} : { stopError: errorText(error) }) });
  }

  /** The group view changed (an assignment, a task started or stopped): sent as meta. */
  groupChanged(): void {
    this.setMeta({});
  }

  snapshot(): DashboardSnapshot {
    const batches = [...this.rows.values()].sort((a, b) => a.batchTime - b.batchTime || (a.task ?? 0) - (b.task ?? 0));
    return { app: this.subject.description, historySize: this.historySize, ...this.currentMeta(), batches };
  }

  private currentMeta(): DashboardMeta {
    // The subject's own status is the truth (e.g. 'stopping' has no event).
    const group = this.subject.group?.();
    return { status: this.subject.status, epoch: this.subject.epoch, ...this.meta, ...(group ? { group } : {}) };
  }

  private setLag(task: number | undefined, lag: NonNullable<BatchInfo['lag']>): void {
    this.lagByTask.set(task, lag);
    this.setMeta({ lag: this.mergedLag() });
  }

  private dropLag(task: number): void {
    if (this.lagByTask.delete(task)) this.setMeta({ lag: this.mergedLag() });
  }

  private mergedLag(): DashboardMeta['lag'] {
    const merged: Record<string, Record<string, number>> = {};
    for (const lag of this.lagByTask.values()) for (const [source, partitions] of Object.entries(lag)) merged[source] = { ...merged[source], ...partitions };
    return merged;
  }

  private setMeta(patch: Partial<Omit<DashboardMeta, 'status'>>): void {
    this.meta = { ...this.meta, ...patch };
    this.onChange({ kind: 'meta', meta: this.currentMeta() });
  }

  private setRow(info: BatchInfo, status: BatchStatus, error: string | undefined, task: number | undefined): void {
    const key = `${task ?? ''}:${info.batchTime}`;
    const previous = this.rows.get(key);
    const row: BatchRow = {
      batchTime: info.batchTime,
      ...(task === undefined ? {} : { task }),
      numRecords: info.numRecords,
      inputRecords: info.inputRecords,
      inputRate: (info.numRecords * 1000) / this.subject.batchIntervalMs,
      attempt: info.attempt,
      status,
      replay: info.replay,
      ...(info.schedulingDelay === undefined ? {} : { schedulingDelay: info.schedulingDelay }),
      ...(info.processingDelay === undefined ? {} : { processingDelay: info.processingDelay }),
      ...(info.totalDelay === undefined ? {} : { totalDelay: info.totalDelay }),
      // A retried batch keeps showing why its earlier attempt failed.
      ...(error ?? previous?.error ? { error: error ?? previous?.error } : {}),
    };
    // Batches run in time order (per task), so new rows arrive last and the oldest row is the first key.
    this.rows.set(key, row);
    while (this.rows.size > this.historySize) this.rows.delete(this.rows.keys().next().value!);
    if (this.rows.has(key)) this.onChange({ kind: 'batch', row });
  }
}
