import { invalidOption } from '../../errors.js';

/** How `withWatermark` derives the watermark from event times (docs/semantics.md §9). */
export interface WatermarkOptions {
  /** How far behind the newest event time the watermark trails (ms, finite, >= 0). Required. */
  delayMs: number;
  /**
   * A source partition that brought no record with an event time for this many consecutive batches
   * is idle: it stops holding the watermark back until it brings one again. Default 5. Batches,
   * never wall-clock time, so a replay decides idleness exactly as the first run did.
   */
  idleAfterBatches?: number;
}

/** What happens to a record at or below the watermark of its batch. */
export type LatePolicy = 'side-output' | 'drop';
/** What happens to a record whose event time is not a finite number. */
export type InvalidEventTimePolicy = 'fail' | 'side-output' | 'drop';
export type OutputMode = 'final' | 'update';

export interface EventWindowOptions {
  /** Stable operator name: keys the open windows and the watermark in the checkpoint. Required. */
  name: string;
  /** 'final' (default): one result per window and key once the watermark passes its end. 'update': the current value every batch it changes. */
  outputMode?: OutputMode;
  /** 'side-output' (default): late records go to `.late()`. 'drop': they are counted (`.late()` still carries nothing) and dropped. */
  late?: LatePolicy;
  /** 'fail' (default): the batch fails with INVALID_RECORD. 'side-output': to `.late()` with the error. 'drop': counted and dropped. */
  invalidEventTime?: InvalidEventTimePolicy;
  /** Partitions of the window results. Default: the input batch's partition count. */
  numPartitions?: number;
}

export interface ResolvedWatermark {
  readonly delayMs: number;
  readonly idleAfterBatches: number;
}

export interface ResolvedWindowOptions {
  readonly name: string;
  readonly outputMode: OutputMode;
  readonly late: LatePolicy;
  readonly invalidEventTime: InvalidEventTimePolicy;
  readonly numPartitions: number | undefined;
}

export const DEFAULT_IDLE_AFTER_BATCHES = 5;

export function resolveWatermark(extract: unknown, options: WatermarkOptions | undefined): ResolvedWatermark {
  if (typeof extract !== 'function') throw invalidOption('extract', 'withWatermark needs a function record => event time (ms)', extract);
  const delayMs = options?.delayMs;
  if (typeof delayMs !== 'number' || !Number.isFinite(delayMs) || delayMs < 0) {
    throw invalidOption('delayMs', `must be a finite number of ms >= 0, got ${String(delayMs)}`, delayMs);
  }
  const idleAfterBatches = options?.idleAfterBatches ?? DEFAULT_IDLE_AFTER_BATCHES;
  if (!Number.isSafeInteger(idleAfterBatches) || idleAfterBatches < 1) {
    throw invalidOption('idleAfterBatches', `must be an integer >= 1, got ${String(idleAfterBatches)}`, idleAfterBatches);
  }
  return { delayMs, idleAfterBatches };
}

function positiveLength(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalidOption(option, `must be a positive, finite number of ms, got ${String(value)}`, value);
  }
  return value;
}

/** Tumbling (slide = size) or sliding windows: size > 0, 0 < slide <= size. */
export function resolveFixedWindow(sizeMs: unknown, slideMs: unknown): { sizeMs: number; slideMs: number } {
  const size = positiveLength('sizeMs', sizeMs);
  const slide = slideMs === undefined ? size : positiveLength('slideMs', slideMs);
  if (slide > size) throw invalidOption('slideMs', `${slide} ms is larger than the window size ${size} ms, so records between windows would be lost`, { sizeMs: size, slideMs: slide });
  return { sizeMs: size, slideMs: slide };
}

export function resolveGap(gapMs: unknown): number {
  return positiveLength('gapMs', gapMs);
}

const oneOf = <T extends string>(option: string, value: unknown, allowed: readonly T[], fallback: T): T => {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw invalidOption(option, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`, value);
  return value as T;
};

export function resolveWindowOptions(options: EventWindowOptions | undefined): ResolvedWindowOptions {
  const name = options?.name;
  if (typeof name !== 'string' || name === '') throw invalidOption('name', 'event-time windows keep state and need a stable, non-empty name', name);
  const numPartitions = options?.numPartitions;
  if (numPartitions !== undefined && (!Number.isSafeInteger(numPartitions) || numPartitions < 1)) {
    throw invalidOption('numPartitions', `must be an integer >= 1, got ${String(numPartitions)}`, numPartitions);
  }
  return {
    name,
    outputMode: oneOf('outputMode', options?.outputMode, ['final', 'update'], 'final'),
    late: oneOf('late', options?.late, ['side-output', 'drop'], 'side-output'),
    invalidEventTime: oneOf('invalidEventTime', options?.invalidEventTime, ['fail', 'side-output', 'drop'], 'fail'),
    numPartitions,
  };
}
