import type { Logger } from '../api/logger.js';
import { createDefaultLogger } from '../api/logger.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import { assertValidAppId } from '../checkpoint/store.js';
import { invalidOption } from '../errors.js';
import type { BackpressureOptions } from './rate.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';

/** Named moments of the checkpoint protocol, for crash-injection tests (see @microbatch/testkit). */
export type ProtocolPoint =
  | 'plan:before-write'
  | 'plan:after-write'
  | 'output:before'
  | 'output:after'
  | 'complete:before-write';

export interface StreamingContextOptions {
  /** Names the application in the checkpoint store and in sinks' markers. Required. */
  appId: string;
  /** Batch interval; batch times are multiples of it. Required, > 0. */
  batchIntervalMs: number;
  /** Where plans, offsets and state snapshots are written. Required. */
  checkpoint: CheckpointStore;
  /** Partitions of a batch computed or written at once. Default 4. */
  maxConcurrentPartitions?: number;
  /** Default cap of records per source partition per batch; a source's own cap wins. Default: no cap. */
  maxRecordsPerPartition?: number;
  /**
   * While a batch's outputs run, read the next batch's input where its ranges are already certain
   * (a backlog of at least `maxRecordsPerPartition`, no backpressure), so fetching overlaps writing. Holds up to one more batch of input. Default false:
   * on a machine whose CPU is the limit it gained 4-8% for 40-48% more peak RSS (bench scenario 2).
   */
  readAhead?: boolean;
  /** Lower the ingest rate when batches take longer than the interval. Default off. */
  backpressure?: boolean | BackpressureOptions;
  /** Attempts per batch before the context stops with BATCH_FAILED. Default 4. */
  maxBatchAttempts?: number;
  /** First retry delay; doubles per attempt up to `retryBackoffMaxMs`. Default 1000. */
  retryBackoffMs?: number;
  /** Default 30000. */
  retryBackoffMaxMs?: number;
  /**
   * How often stateful operators snapshot their state (a multiple of the batch interval).
   * Default: the smallest multiple of the batch interval that is >= 10 s, as Spark does.
   */
  checkpointIntervalMs?: number;
  /** Stream names whose checkpointed data is dropped on start (see docs/semantics.md). Default none. */
  resetStreams?: readonly string[];
  /** Stop gracefully after a batch that found no new input and left nothing pending. Default false. */
  stopWhenIdle?: boolean;
  /** Stop gracefully on SIGINT and SIGTERM. Default true. */
  stopOnSignals?: boolean;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: createDefaultLogger() — pino, warnings and errors on stderr, secrets redacted. */
  logger?: Logger;
  /** Test hook called at each protocol point; awaited. */
  atProtocolPoint?: (point: ProtocolPoint, info: { batchTime: number; attempt: number }) => void | Promise<void>;
}

export type ResolvedOptions = Required<
  Omit<StreamingContextOptions, 'maxRecordsPerPartition' | 'atProtocolPoint' | 'backpressure'>
> & {
  maxRecordsPerPartition: number | undefined;
  backpressure: BackpressureOptions | undefined;
  atProtocolPoint: StreamingContextOptions['atProtocolPoint'];
};

const positiveInt = (name: string, value: unknown, min = 1): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption(name, `must be an integer >= ${min}, got ${String(value)}`, value);
  }
  return value;
};

export function resolveOptions(options: StreamingContextOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'must be an object', options);
  assertValidAppId(options.appId);
  const batchIntervalMs = positiveInt('batchIntervalMs', options.batchIntervalMs);
  const store = options.checkpoint;
  if (!store || typeof store.write !== 'function' || typeof store.latest !== 'function') {
    throw invalidOption('checkpoint', 'must be a CheckpointStore (e.g. createMemoryCheckpointStore())', store);
  }
  const resetStreams = options.resetStreams ?? [];
  if (!Array.isArray(resetStreams) || !resetStreams.every((s) => typeof s === 'string')) {
    throw invalidOption('resetStreams', 'must be an array of stream names', resetStreams);
  }
  const backpressure = options.backpressure === true ? {} : options.backpressure || undefined;
  const readAhead = options.readAhead ?? false;
  if (typeof readAhead !== 'boolean') throw invalidOption('readAhead', `must be a boolean, got ${String(readAhead)}`, readAhead);
  const checkpointIntervalMs = options.checkpointIntervalMs ?? Math.ceil(10_000 / batchIntervalMs) * batchIntervalMs;
  assertMultipleOfInterval('checkpointIntervalMs', checkpointIntervalMs, batchIntervalMs);
  return {
    appId: options.appId,
    batchIntervalMs,
    checkpoint: store,
    maxConcurrentPartitions: positiveInt('maxConcurrentPartitions', options.maxConcurrentPartitions ?? 4),
    maxRecordsPerPartition:
      options.maxRecordsPerPartition === undefined ? undefined : positiveInt('maxRecordsPerPartition', options.maxRecordsPerPartition),
    backpressure,
    readAhead,
    checkpointIntervalMs,
    maxBatchAttempts: positiveInt('maxBatchAttempts', options.maxBatchAttempts ?? 4),
    retryBackoffMs: positiveInt('retryBackoffMs', options.retryBackoffMs ?? 1000, 0),
    retryBackoffMaxMs: positiveInt('retryBackoffMaxMs', options.retryBackoffMaxMs ?? 30_000, 0),
    resetStreams,
    stopWhenIdle: options.stopWhenIdle ?? false,
    stopOnSignals: options.stopOnSignals ?? true,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? createDefaultLogger({ appId: options.appId }),
    atProtocolPoint: options.atProtocolPoint,
  };
}

/** Window and slide lengths must be whole numbers of batch intervals. */
export function assertMultipleOfInterval(option: string, value: number, batchIntervalMs: number): void {
  if (!Number.isSafeInteger(value) || value <= 0 || value % batchIntervalMs !== 0) {
    throw invalidOption(option, `${value} ms is not a positive multiple of the batch interval ${batchIntervalMs} ms`, {
      value,
      batchIntervalMs,
    });
  }
}
