import type { Logger } from '../api/logger.js';
import type { OffsetRange } from '../api/offsets.js';
import type { RejectedRecords } from '../api/source.js';

/** Spark's BatchInfo: what a batch read and how long it waited and ran. Times are epoch ms. */
export interface BatchInfo {
  readonly batchTime: number;
  /** Records the batch's ranges cover, per source (an upper bound where a range has gaps). */
  readonly inputRecords: Readonly<Record<string, number>>;
  readonly numRecords: number;
  readonly offsetRanges: readonly OffsetRange[];
  /** Per source, per partition: records available beyond this batch when it was planned (absent for replays). */
  readonly lag?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** True for a batch planned before a restart and run again from its logged plan. */
  readonly replay: boolean;
  readonly attempt: number;
  readonly submissionTime: number;
  readonly processingStartTime?: number;
  readonly processingEndTime?: number;
  /** Processing start minus batch time. */
  readonly schedulingDelay?: number;
  /** Processing end minus processing start. */
  readonly processingDelay?: number;
  /** Processing end minus batch time. */
  readonly totalDelay?: number;
}

export interface OutputOperationInfo {
  readonly batchTime: number;
  readonly id: number;
  readonly name: string;
  readonly attempt: number;
  readonly startTime: number;
  readonly endTime?: number;
  readonly durationMs?: number;
  readonly error?: unknown;
}

/** Like Spark's StreamingListener. Every callback is optional; a throwing listener is logged, never fatal. */
export interface StreamingListener {
  onStreamingStarted?(event: { readonly time: number; readonly epoch: number; readonly replayBatches: number }): void;
  onBatchSubmitted?(info: BatchInfo): void;
  onBatchStarted?(info: BatchInfo): void;
  onBatchCompleted?(info: BatchInfo): void;
  onBatchFailed?(event: { readonly info: BatchInfo; readonly error: unknown; readonly willRetry: boolean }): void;
  onOutputOperationStarted?(info: OutputOperationInfo): void;
  onOutputOperationCompleted?(info: OutputOperationInfo): void;
  onCheckpointWritten?(event: { readonly seq: number; readonly batchTime: number; readonly durationMs: number; readonly epoch: number }): void;
  onRecordsRejected?(event: RejectedRecords): void;
  onStreamingStopped?(event: { readonly time: number; readonly error?: unknown }): void;
}

export class ListenerBus {
  private readonly listeners: StreamingListener[] = [];

  constructor(private readonly logger: Logger) {}

  add(listener: StreamingListener): void {
    this.listeners.push(listener);
  }

  remove(listener: StreamingListener): void {
    const index = this.listeners.indexOf(listener);
    if (index >= 0) this.listeners.splice(index, 1);
  }

  emit<E extends keyof StreamingListener>(event: E, payload: Parameters<NonNullable<StreamingListener[E]>>[0]): void {
    for (const listener of this.listeners) {
      const handler = listener[event] as ((p: typeof payload) => void) | undefined;
      if (!handler) continue;
      try {
        handler.call(listener, payload);
      } catch (error) {
        this.logger.error({ err: error, event }, 'a streaming listener threw; the pipeline goes on');
      }
    }
  }
}
