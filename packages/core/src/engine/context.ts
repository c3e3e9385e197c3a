import type { Logger } from '../api/logger.js';
import type { OffsetRange, PartitionOffsets } from '../api/offsets.js';
import type { RejectedRecords, Source } from '../api/source.js';
import type { BatchRecord } from '../checkpoint/format.js';
import { blobKey } from '../checkpoint/store.js';
import type { DStream } from '../dstream/dstream.js';
import { StreamGraph } from '../dstream/graph.js';
import { InputDStream } from '../dstream/input.js';
import { MicrobatchError, isMicrobatchError } from '../errors.js';
import { runBatch, type BatchRunnerEnv } from './batch-runner.js';
import { Checkpointer } from './checkpointer.js';
import { BatchHistory } from './history.js';
import { ListenerBus, type BatchInfo, type StreamingListener } from './listener.js';
import { resolveOptions, type ProtocolPoint, type ResolvedOptions, type StreamingContextOptions } from './options.js';
import { planSource } from './planner.js';
import { PidRateEstimator } from './rate.js';
import { ReadAhead, predictNextRanges } from './read-ahead.js';
import { assertSinksNotAhead, recover, type RecoveredState } from './recovery.js';
import { withRetries, type RetryPolicy } from './retry.js';

export type ContextState = 'initialized' | 'active' | 'stopping' | 'stopped';

/** What an application is made of, for dashboards and status pages. */
export interface AppDescription {
  readonly appId: string;
  readonly batchIntervalMs: number;
  /** Source names, in registration order. */
  readonly sources: readonly string[];
  /** Names of stateful and windowed operators (the names their checkpoint data lives under). */
  readonly operators: readonly string[];
  /** Output operations in the order they run; `guarantee` is the sink's, absent for foreachBatch/print. */
  readonly outputs: ReadonlyArray<{ readonly name: string; readonly guarantee?: 'idempotent' | 'transactional' }>;
  /** The checkpoint store's driver, e.g. "memory", "fs", "redis", "s3". */
  readonly checkpointStore: string;
}

/**
 * The entry point, like Spark's StreamingContext. Build the graph (sources, transformations,
 * outputs), then start(). On every start the same program recovers from the checkpoint store:
 * planned but incomplete batches run again with exactly their logged ranges, then new batches
 * follow. See docs/semantics.md for the protocol.
 */
export class StreamingContext {
  private readonly options: ResolvedOptions;
  private readonly graph: StreamGraph;
  private readonly bus: ListenerBus;
  private readonly logger: Logger;
  private state: ContextState = 'initialized';
  private epochValue: number | undefined;
  /** Aborted on a non-graceful stop: in-flight reads and writes are abandoned. */
  private readonly abort = new AbortController();
  /** Aborted on any stop: interrupts the wait for the next batch time. */
  private readonly wake = new AbortController();
  private readonly estimators = new Map<string, PidRateEstimator>();
  private readonly rates = new Map<string, number | undefined>();
  private termination!: Promise<void>;
  private failure: unknown;
  private graceful = true;
  private removeSignalHandlers = () => {};
  private history!: BatchHistory;
  private readAhead: ReadAhead | undefined;
  /** Batch time the next snapshot is measured from. */
  private snapshotBase: number | undefined;

  constructor(options: StreamingContextOptions) {
    this.options = resolveOptions(options);
    this.logger = this.options.logger;
    this.graph = new StreamGraph(this.options.batchIntervalMs);
    this.bus = new ListenerBus(this.logger);
  }

  get appId(): string {
    return this.options.appId;
  }

  get batchIntervalMs(): number {
    return this.options.batchIntervalMs;
  }

  /** The epoch this process took at start; undefined before. */
  get epoch(): number | undefined {
    return this.epochValue;
  }

  get status(): ContextState {
    return this.state;
  }

  /** The graph built so far (complete once start() is called): read-only, for status pages. */
  get description(): AppDescription {
    return {
      appId: this.appId,
      batchIntervalMs: this.batchIntervalMs,
      sources: [...this.graph.sources.keys()],
      operators: [...this.graph.operators],
      outputs: this.graph.outputs.map((o) => (o.sink ? { name: o.name, guarantee: o.sink.guarantee } : { name: o.name })),
      checkpointStore: this.options.checkpoint.kind,
    };
  }

  /** Registers a named source and returns its stream. */
  source<T>(source: Source<T>): DStream<T> {
    return new InputDStream(this.graph, source);
  }

  /** Registers a stable name for a stateful or windowed operator (used by those operators). */
  registerOperator(name: string): void {
    this.graph.addOperator(name);
  }

  addListener(listener: StreamingListener): void {
    this.bus.add(listener);
  }

  removeListener(listener: StreamingListener): void {
    this.bus.remove(listener);
  }

  /**
   * Takes a new epoch, recovers from the checkpoint and starts the batch loop. Rejects (and the
   * context is stopped) when recovery fails, e.g. GRAPH_MISMATCH or CHECKPOINT_CORRUPT.
   */
  async start(): Promise<void> {
    if (this.state !== 'initialized') throw new MicrobatchError('ALREADY_STARTED', `The context is ${this.state}; a context starts once`);
    this.graph.freeze();
    this.state = 'active';
    const { checkpoint: store, appId } = this.options;
    let checkpointer: Checkpointer;
    let pending: BatchRecord[];
    let lastBatchTime: number;
    try {
      const epoch = await this.withRetry('taking an epoch from the checkpoint store', () => store.acquireEpoch(appId));
      this.epochValue = epoch;
      const { resetStreams, recoverFromOlderCheckpoint } = this.options;
      const recovered = await this.withRetry('reading the newest checkpoint', () =>
        recover(store, appId, this.graph, { resetStreams, recoverFromOlderCheckpoint }, this.logger),
      );
      checkpointer = new Checkpointer(
        store,
        appId,
        epoch,
        this.options.batchIntervalMs,
        this.options.clock,
        recovered,
        this.graph.stateful.map((op) => op.name),
        this.graph.rememberMs,
      );
      const readAhead = this.options.readAhead ? new ReadAhead(this.graph.sources, this.options.maxConcurrentPartitions, this.logger) : undefined;
      this.readAhead = readAhead;
      this.history = new BatchHistory(
        {
          appId,
          concurrency: this.options.maxConcurrentPartitions,
          logger: this.logger,
          signal: this.abort.signal,
          ...(readAhead ? { prefetched: (range: OffsetRange) => readAhead.take(range) } : {}),
        },
        this.graph.rememberMs,
      );
      pending = recovered.pending;
      lastBatchTime = recovered.lastBatchTime;
      await this.openAll(epoch);
      await this.withRetry('asking the sinks what they committed', () =>
        assertSinksNotAhead(this.graph.outputs, appId, recovered, recoverFromOlderCheckpoint, this.logger),
      );
      await this.restoreState(recovered);
    } catch (error) {
      await this.closeAll();
      this.state = 'stopped';
      this.termination = Promise.reject(error);
      this.termination.catch(() => {});
      throw error;
    }
    this.installSignalHandlers();
    this.bus.emit('onStreamingStarted', { time: this.options.clock.now(), epoch: this.epochValue!, replayBatches: pending.length });
    this.termination = this.run(checkpointer, pending, lastBatchTime);
    this.termination.catch(() => {});
  }

  /**
   * Stops the context. Graceful (default): the batch in flight finishes and its completion is
   * written to the checkpoint. Not graceful: in-flight work is abandoned and will be replayed on
   * the next start. Resolves when the context has stopped.
   */
  async stop(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.state === 'initialized') {
      this.state = 'stopped';
      this.termination = Promise.resolve();
      return;
    }
    if (this.state === 'active') {
      this.state = 'stopping';
      this.graceful = options.graceful ?? true;
      this.wake.abort();
      if (!this.graceful) this.abort.abort();
    }
    await this.termination.catch(() => {});
  }

  /** Resolves when the context stops; rejects with the error that stopped it, if any. */
  awaitTermination(): Promise<void> {
    if (this.state === 'initialized') {
      return Promise.reject(new MicrobatchError('NOT_STARTED', 'awaitTermination() before start()'));
    }
    return this.termination;
  }

  // ---- the batch loop: source -> plan -> checkpoint -> compute -> sink -> complete ----

  private async run(checkpointer: Checkpointer, pending: BatchRecord[], lastBatchTime: number): Promise<void> {
    const { clock, batchIntervalMs: interval } = this.options;
    try {
      for (const record of pending) {
        if (this.state !== 'active') break;
        await this.runAndComplete(checkpointer, record, true);
      }
      let time = firstBatchTime(clock.now(), lastBatchTime, interval);
      while (this.state === 'active') {
        await clock.sleep(time - clock.now(), this.wake.signal);
        if (this.state !== 'active') break;
        const { record, lag } = await this.planBatch(checkpointer, time);
        this.readAhead?.keepOnly(record.ranges);
        await this.writeCheckpoint(checkpointer, 'plan', time);
        const partitionsOf = (name: string) => record.ranges.filter((r) => r.source === name).length;
        const next = { time: time + interval, ranges: predictNextRanges(record.ranges, lag, (name) => this.staticCapOf(name, partitionsOf(name))) };
        const info = await this.runAndComplete(checkpointer, record, false, lag, next);
        if (this.options.stopWhenIdle && info.numRecords === 0) {
          this.logger.info({ batchTime: time }, 'no new input: stopping (stopWhenIdle)');
          this.state = 'stopping';
        }
        time += interval;
      }
      if (this.graceful && checkpointer.hasUnrecordedCompletion()) {
        await this.writeCheckpoint(checkpointer, 'complete', undefined);
      }
    } catch (error) {
      if (!(isMicrobatchError(error, 'STOPPED') && !this.graceful)) {
        this.failure = error;
        this.logger.error({ err: error }, 'the streaming context stops on an error');
      }
    } finally {
      this.readAhead?.clear();
      this.removeSignalHandlers();
      await this.closeAll();
      this.state = 'stopped';
      this.bus.emit('onStreamingStopped', { time: clock.now(), error: this.failure });
    }
    if (this.failure !== undefined) throw this.failure;
  }

  /** Decides the exact ranges of every source for a new batch; not yet durable. */
  private async planBatch(checkpointer: Checkpointer, time: number): Promise<{ record: BatchRecord; lag: Record<string, Record<string, number>> }> {
    const ranges: OffsetRange[] = [];
    const next = new Map<string, PartitionOffsets>();
    const lag: Record<string, Record<string, number>> = {};
    for (const [name, source] of this.graph.sources) {
      const plan = await this.withRetry(`planning source "${name}"`, () =>
        planSource(
          source,
          checkpointer.offsetsOf(name),
          {
            staticCap: source.maxRecordsPerPartition ?? this.options.maxRecordsPerPartition,
            batchCap: this.options.maxRecordsPerBatch,
            // Before the first estimate the first batch is already capped by initialRate (§7).
            rate: this.rates.get(name) ?? this.options.backpressure?.initialRate,
            batchIntervalMs: this.options.batchIntervalMs,
          },
          this.logger,
        ),
      );
      ranges.push(...plan.ranges);
      next.set(name, plan.next);
      lag[name] = plan.lag;
    }
    const record: BatchRecord = { time, ranges, completed: false };
    checkpointer.addPlan(record, next);
    return { record, lag };
  }

  /** Write-ahead: the plan is durable before any output of its batch runs. */
  private async writeCheckpoint(checkpointer: Checkpointer, why: 'plan' | 'complete', batchTime: number | undefined): Promise<void> {
    const time = batchTime ?? 0;
    await this.point(why === 'plan' ? 'plan:before-write' : 'complete:before-write', time, 1);
    const started = performance.now();
    const { durable, retireBefore, seq } = await this.withRetry('writing a checkpoint', () => checkpointer.write());
    this.bus.emit('onCheckpointWritten', { seq, batchTime: time, durationMs: performance.now() - started, epoch: this.epochValue! });
    if (why === 'plan') await this.point('plan:after-write', time, 1);
    await this.afterDurable(durable, retireBefore);
  }

  private async runAndComplete(
    checkpointer: Checkpointer,
    record: BatchRecord,
    replay: boolean,
    lag?: BatchInfo['lag'],
    /** The next batch's ranges known already: read while this batch's outputs run. */
    next?: Pick<BatchRecord, 'time' | 'ranges'>,
  ): Promise<BatchInfo> {
    const { info, generation } = await runBatch(this.runnerEnv(next), record, replay, lag);
    for (const operator of this.graph.stateful) operator.commit(generation);
    this.history.forgetBefore(record.time);
    checkpointer.markCompleted(record.time);
    this.updateRates(info);
    await this.snapshotIfDue(checkpointer, record.time);
    return info;
  }

  /**
   * Loads the state snapshot, then rebuilds state by recomputing (without outputs) every completed
   * batch logged after it, so state equals that of a run that never stopped.
   */
  private async restoreState(recovered: RecoveredState): Promise<void> {
    for (const batch of recovered.retained) this.history.remember(batch.time, batch.ranges);
    const { snapshot } = recovered;
    for (const operator of this.graph.stateful) {
      const key = snapshot?.keys[operator.name];
      if (snapshot && key) {
        await operator.restore(await this.options.checkpoint.getBlob(this.appId, key), snapshot.time, key);
      } else {
        operator.reset();
      }
    }
    this.snapshotBase = snapshot?.time;
    for (const batch of recovered.stateReplay) {
      const generation = this.history.generation(batch.time, batch.ranges, 1);
      for (const operator of this.graph.stateful) await operator.prepare(generation);
      for (const operator of this.graph.stateful) operator.commit(generation);
      this.history.forgetBefore(batch.time);
    }
    if (recovered.stateReplay.length > 0) this.logger.info({ batches: recovered.stateReplay.length }, 'state rebuilt from snapshot and log');
  }

  /** Every checkpointIntervalMs of batch time, all stateful operators snapshot their state at the same batch. */
  private async snapshotIfDue(checkpointer: Checkpointer, time: number): Promise<void> {
    if (this.graph.stateful.length === 0) return;
    this.snapshotBase ??= time - this.options.batchIntervalMs;
    if (time - this.snapshotBase < this.options.checkpointIntervalMs) return;
    const keys: Record<string, string> = {};
    for (const operator of this.graph.stateful) {
      const key = blobKey(this.epochValue!, `state/${operator.name}/${String(time).padStart(16, '0')}`);
      await this.withRetry(`writing the state snapshot of "${operator.name}"`, () =>
        this.options.checkpoint.putBlob(this.appId, key, operator.snapshot(time), this.epochValue!),
      );
      keys[operator.name] = key;
    }
    checkpointer.setSnapshot(time, keys);
    this.snapshotBase = time;
  }

  /** Monitoring commits to sources, and marker pruning in sinks, once completion is durable. */
  private async afterDurable(durable: OffsetRange[], retireBefore: number | undefined): Promise<void> {
    for (const [name, source] of this.graph.sources) {
      const ranges = durable.filter((r) => r.source === name);
      if (ranges.length === 0 || !source.commit) continue;
      try {
        await source.commit(ranges);
      } catch (error) {
        this.logger.warn({ err: error, source: name }, 'committing offsets back to the source failed (monitoring only)');
      }
    }
    if (retireBefore === undefined) return;
    for (const output of this.graph.outputs) {
      const sink = output.sink;
      if (sink?.retire) await this.withRetry(`pruning the markers of output "${output.name}"`, () => sink.retire!({ appId: this.appId, epoch: this.epochValue!, before: retireBefore }));
    }
  }

  private updateRates(info: BatchInfo): void {
    if (!this.options.backpressure || info.processingDelay === undefined) return;
    for (const [name, records] of Object.entries(info.inputRecords)) {
      let estimator = this.estimators.get(name);
      if (!estimator) this.estimators.set(name, (estimator = new PidRateEstimator(this.options.batchIntervalMs, this.options.backpressure)));
      const rate = estimator.compute(info.batchTime, records, info.processingDelay, info.schedulingDelay ?? 0);
      if (rate !== undefined) this.rates.set(name, rate);
      else if (!this.rates.has(name)) this.rates.set(name, this.options.backpressure.initialRate);
    }
  }

  /**
   * The per-partition cap the planner applies to a source, when nothing else limits it: neither
   * backpressure nor the batch cap, which split a budget by lag and so depend on what arrives.
   */
  private staticCapOf(name: string, partitions: number): number | undefined {
    if (this.options.backpressure) return undefined;
    const cap = this.graph.sources.get(name)?.maxRecordsPerPartition ?? this.options.maxRecordsPerPartition;
    return cap !== undefined && cap * partitions <= this.options.maxRecordsPerBatch ? cap : undefined;
  }

  private runnerEnv(next?: Pick<BatchRecord, 'time' | 'ranges'>): BatchRunnerEnv {
    const readAhead = this.readAhead;
    return {
      ...(readAhead && next && next.ranges.length > 0
        ? {
            beforeOutputs: () =>
              readAhead.start(next.ranges, { appId: this.appId, batchTime: next.time, attempt: 1, logger: this.logger }),
          }
        : {}),
      appId: this.appId,
      epoch: this.epochValue!,
      graph: this.graph,
      concurrency: this.options.maxConcurrentPartitions,
      clock: this.options.clock,
      logger: this.logger,
      bus: this.bus,
      retry: this.retryPolicy(),
      signal: this.abort.signal,
      history: this.history,
      atProtocolPoint: (point, time, attempt) => this.point(point, time, attempt),
    };
  }

  private retryPolicy(): RetryPolicy {
    return {
      maxAttempts: this.options.maxBatchAttempts,
      timeoutMs: this.options.retryTimeoutMs,
      backoffMs: this.options.retryBackoffMs,
      backoffMaxMs: this.options.retryBackoffMaxMs,
      clock: this.options.clock,
      signal: this.abort.signal,
    };
  }

  /** Retries a call to a source, sink or checkpoint store; `what` names it in the log line. */
  private withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withRetries(this.retryPolicy(), fn, (error, failure) =>
      this.logger.warn(
        { err: error, ...failure },
        failure.willRetry
          ? `${what} failed; retrying in ${failure.retryInMs} ms (transient failures are retried for ${Math.round(failure.retryingForMs! / 1000)} s more)`
          : `${what} failed; giving up`,
      ),
    );
  }

  private async point(point: ProtocolPoint, batchTime: number, attempt: number): Promise<void> {
    await this.options.atProtocolPoint?.(point, { batchTime, attempt });
  }

  private async openAll(epoch: number): Promise<void> {
    const reportRejected = (event: RejectedRecords) => this.bus.emit('onRecordsRejected', event);
    // Each source and sink logs under its own bindings, so a line says which one spoke.
    for (const [name, source] of this.graph.sources) {
      await source.open?.({ appId: this.appId, logger: this.logger.child({ component: 'source', source: name }), reportRejected });
    }
    for (const output of this.graph.outputs) {
      await output.sink?.open?.({ appId: this.appId, epoch, logger: this.logger.child({ component: 'sink', output: output.name }) });
    }
  }

  private async closeAll(): Promise<void> {
    const closers = [
      ...[...this.graph.sources.values()].map((s) => () => s.close?.()),
      ...this.graph.outputs.map((o) => () => o.sink?.close?.()),
    ];
    for (const close of closers) {
      try {
        await close();
      } catch (error) {
        this.logger.error({ err: error }, 'closing a source or sink failed');
      }
    }
  }

  private installSignalHandlers(): void {
    if (!this.options.stopOnSignals) return;
    const handler = (signal: NodeJS.Signals) => {
      this.logger.info({ signal }, 'stopping gracefully on signal');
      void this.stop({ graceful: true });
    };
    process.once('SIGINT', handler);
    process.once('SIGTERM', handler);
    this.removeSignalHandlers = () => {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    };
  }
}

/** The first new batch time: the next multiple of the interval, strictly after every logged batch. */
export function firstBatchTime(now: number, lastBatchTime: number, interval: number): number {
  const aligned = Math.ceil(now / interval) * interval;
  const afterLogged = (Math.floor(lastBatchTime / interval) + 1) * interval;
  return Math.max(aligned, afterLogged);
}
