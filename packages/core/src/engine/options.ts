import type { Logger } from '../api/logger.js';
import { createDefaultLogger } from '../api/logger.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import { assertValidAppId } from '../checkpoint/store.js';
import { invalidOption } from '../errors.js';
import type { BackpressureOptions } from './rate.js';
import type { Clock } from './clock.js';
import { systemClock } from './clock.js';
import { assertTaskId, taskAppId, type TaskScope } from './task-id.js';
import { withVerifyHooks } from './verify-hooks.js';

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
   * Cap of records per source per new batch, split over its partitions in proportion to their
   * lag (at least one record per lagging partition), so a restart after a long downtime drains the
   * backlog in bounded batches instead of reading it all into memory at once. `Infinity` for no
   * cap. Default 200000 (about 300 MB of JS heap at 1.5 KB per record in flight).
   */
  maxRecordsPerBatch?: number;
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
   * How long transient failures (a broker, database or checkpoint store that is restarting or
   * failing over) are retried, measured from the first failure, before the context stops. Applies
   * to planning, checkpoint writes and batch attempts alike; at least `maxBatchAttempts` attempts
   * are always made. Deterministic errors (FENCED, OFFSET_OUT_OF_RANGE, DESERIALIZATION_FAILED...)
   * stop at once. Default 300000 (5 min, as Kafka Streams' task.timeout.ms); 0 for attempts only.
   */
  retryTimeoutMs?: number;
  /**
   * When the newest checkpoints are corrupt, start from the newest valid one instead of failing
   * with CHECKPOINT_CORRUPT. Risk: the batches planned in the lost checkpoints cannot be replayed
   * with their logged times and ranges, so their records are planned again under new batch times
   * and transactional outputs that had committed them commit them a second time (idempotent
   * outputs rewrite the same values). It also lets a start go on when a transactional sink has
   * committed batches the checkpoint does not know (CHECKPOINT_BEHIND_SINK), with the same risk.
   * Default false. See docs/semantics.md §3.
   */
  recoverFromOlderCheckpoint?: boolean;
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
  /**
   * Run only task N of the application: partition number N of every source, under its own
   * namespace `<appId>.task-N` in the checkpoint store and in every sink (its own epoch,
   * checkpoints, state and markers). A `StreamingGroup` sets it for each task it runs; set it by
   * hand for a static deployment. Default: none, the whole application is one task under `appId`.
   * See docs/semantics.md §10.
   */
  task?: number;
  /**
   * With `task`: when the task has no checkpoint yet and the application has single-process
   * checkpoints under `appId`, start the task from the offsets they hold for its partitions. The
   * single process must have stopped gracefully (nothing pending) and hold no operator state;
   * otherwise start fails with CHECKPOINT_LAYOUT_MISMATCH. Default false: such checkpoints fail
   * start instead of being ignored.
   */
  migrateFromSingleProcess?: boolean;
}

export type ResolvedOptions = Required<
  Omit<StreamingContextOptions, 'maxRecordsPerPartition' | 'atProtocolPoint' | 'backpressure' | 'task'>
> & {
  /** Set when the context runs one task of a group; `appId` is then the task's own namespace. */
  task: TaskScope | undefined;
  maxRecordsPerPartition: number | undefined;
  /** Infinity for no cap. */
  maxRecordsPerBatch: number;
  backpressure: BackpressureOptions | undefined;
  atProtocolPoint: StreamingContextOptions['atProtocolPoint'];
};

const positiveInt = (name: string, value: unknown, min = 1): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption(name, `must be an integer >= ${min}, got ${String(value)}`, value);
  }
  return value;
};

const booleanOption = (name: string, value: unknown): boolean => {
  if (typeof value !== 'boolean') throw invalidOption(name, `must be a boolean, got ${String(value)}`, value);
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
  const readAhead = booleanOption('readAhead', options.readAhead ?? false);
  const checkpointIntervalMs = options.checkpointIntervalMs ?? Math.ceil(10_000 / batchIntervalMs) * batchIntervalMs;
  assertMultipleOfInterval('checkpointIntervalMs', checkpointIntervalMs, batchIntervalMs);
  let task: TaskScope | undefined;
  if (options.task !== undefined) {
    assertTaskId(options.task);
    task = { id: options.task, groupAppId: options.appId };
    assertValidAppId(taskAppId(options.appId, options.task));
  }
  // The crash verifier's switches (MICROBATCH_VERIFY_*), a no-op unless set: see verify-hooks.ts.
  return withVerifyHooks({
    appId: task ? taskAppId(task.groupAppId, task.id) : options.appId,
    task,
    migrateFromSingleProcess: booleanOption('migrateFromSingleProcess', options.migrateFromSingleProcess ?? false),
    batchIntervalMs,
    checkpoint: store,
    maxConcurrentPartitions: positiveInt('maxConcurrentPartitions', options.maxConcurrentPartitions ?? 4),
    maxRecordsPerPartition:
      options.maxRecordsPerPartition === undefined ? undefined : positiveInt('maxRecordsPerPartition', options.maxRecordsPerPartition),
    backpressure,
    readAhead,
    checkpointIntervalMs,
    maxRecordsPerBatch:
      options.maxRecordsPerBatch === Number.POSITIVE_INFINITY ? Number.POSITIVE_INFINITY : positiveInt('maxRecordsPerBatch', options.maxRecordsPerBatch ?? 200_000),
    maxBatchAttempts: positiveInt('maxBatchAttempts', options.maxBatchAttempts ?? 4),
    retryTimeoutMs: positiveInt('retryTimeoutMs', options.retryTimeoutMs ?? 300_000, 0),
    recoverFromOlderCheckpoint: booleanOption('recoverFromOlderCheckpoint', options.recoverFromOlderCheckpoint ?? false),
    retryBackoffMs: positiveInt('retryBackoffMs', options.retryBackoffMs ?? 1000, 0),
    retryBackoffMaxMs: positiveInt('retryBackoffMaxMs', options.retryBackoffMaxMs ?? 30_000, 0),
    resetStreams,
    stopWhenIdle: options.stopWhenIdle ?? false,
    stopOnSignals: options.stopOnSignals ?? true,
    clock: options.clock ?? systemClock,
    logger: options.logger ?? createDefaultLogger({ appId: options.appId }),
    atProtocolPoint: options.atProtocolPoint,
  });
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
