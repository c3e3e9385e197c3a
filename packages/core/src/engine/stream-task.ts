import type { Logger } from '../api/logger.js';
import type { OffsetRange, PartitionOffsets } from '../api/offsets.js';
import type { Source } from '../api/source.js';
import type { BatchRecord } from '../checkpoint/format.js';
import type { StreamGraph } from '../dstream/graph.js';
import { runBatch, type BatchRunnerEnv } from './batch-runner.js';
import { Checkpointer } from './checkpointer.js';
import { closeEndpoints, openEndpoints } from './endpoints.js';
import { BatchHistory } from './history.js';
import type { BatchInfo, ListenerBus } from './listener.js';
import type { ProtocolPoint, ResolvedOptions } from './options.js';
import { planSource } from './planner.js';
import { RateControl } from './rate-control.js';
import { ReadAhead, predictNextRanges } from './read-ahead.js';
import { assertSinksNotAhead, recover } from './recovery.js';
import { retryingCall, type RetryPolicy, type RetryingCall } from './retry.js';
import { StateSnapshots } from './state-snapshots.js';
import { partitionNumberOf } from './task-id.js';
import { checkTaskLayout } from './task-layout.js';

/** How the owner of a task steers it: whether to keep going, and how a stop is meant. */
export interface TaskControl {
  /** False once a stop was asked for (or stopWhenIdle decided it): no new batch is planned. */
  isActive(): boolean;
  /** Asks for a graceful stop from inside the loop (stopWhenIdle). */
  stopSoon(): void;
  /** Whether the stop is graceful: the last completion is then written. */
  graceful(): boolean;
  /** Aborted on a non-graceful stop: in-flight reads and writes are abandoned. */
  readonly abort: AbortSignal;
  /** Aborted on any stop: interrupts the wait for the next batch time. */
  readonly wake: AbortSignal;
}

/**
 * One task: the unit that owns a batch loop, its checkpoints, its epoch, its state and its
 * fencing (Kafka Streams' StreamTask). Today's single-process application is one task over all
 * partitions; a group of processes runs one per assigned task. The data path of a batch reads top
 * to bottom in `runNewBatch`: source -> plan -> write-ahead -> compute -> sink -> complete.
 */
export class StreamTask {
  private readonly retrying: RetryingCall;
  private readonly rates: RateControl;
  private epochValue: number | undefined;
  private checkpointer!: Checkpointer;
  private history!: BatchHistory;
  private snapshots!: StateSnapshots;
  private readAhead: ReadAhead | undefined;
  private pending: BatchRecord[] = [];
  private lastBatchTime = 0;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly graph: StreamGraph,
    private readonly bus: ListenerBus,
    private readonly logger: Logger,
    private readonly control: TaskControl,
  ) {
    this.retrying = retryingCall(this.retryPolicy(), logger);
    this.rates = new RateControl(options, graph);
  }

  get appId(): string {
    return this.options.appId;
  }

  /** The epoch this task took when it opened; undefined before. */
  get epoch(): number | undefined {
    return this.epochValue;
  }

  /** Batches planned before a restart, run again first with exactly their logged ranges. */
  get replayBatches(): number {
    return this.pending.length;
  }

  /**
   * Takes a new epoch (fencing any older owner), recovers from the checkpoint, opens sources and
   * sinks, checks the sinks are not ahead of the checkpoint, and rebuilds state. On failure the
   * caller closes the task.
   */
  async open(): Promise<void> {
    const { checkpoint: store, appId, resetStreams, recoverFromOlderCheckpoint } = this.options;
    const epoch = await this.retrying('taking an epoch from the checkpoint store', () => store.acquireEpoch(appId));
    this.epochValue = epoch;
    const seed = await this.retrying('checking the checkpoint layout', () => checkTaskLayout(store, this.options, this.graph, this.logger));
    const recovered = await this.retrying('reading the newest checkpoint', () =>
      recover(store, appId, this.graph, { resetStreams, recoverFromOlderCheckpoint, ...(seed ? { seed } : {}) }, this.logger),
    );
    this.checkpointer = new Checkpointer(
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
        signal: this.control.abort,
        ...(readAhead ? { prefetched: (range: OffsetRange) => readAhead.take(range) } : {}),
      },
      this.graph.rememberMs,
    );
    this.snapshots = new StateSnapshots({
      appId,
      epoch,
      graph: this.graph,
      store,
      history: this.history,
      batchIntervalMs: this.options.batchIntervalMs,
      checkpointIntervalMs: this.options.checkpointIntervalMs,
      logger: this.logger,
      retrying: this.retrying,
    });
    this.pending = recovered.pending;
    this.lastBatchTime = recovered.lastBatchTime;
    await openEndpoints(this.graph, {
      appId,
      epoch,
      logger: this.logger,
      reportRejected: (event) => this.bus.emit('onRecordsRejected', event),
      ownerOf: (source) => this.ownerOf(source),
    });
    await this.retrying('asking the sinks what they committed', () =>
      assertSinksNotAhead(this.graph, appId, recovered, recoverFromOlderCheckpoint, this.logger),
    );
    await this.snapshots.restore(recovered);
  }

  /** The batch loop: pending batches first, then a new batch every interval until stopped. */
  async run(): Promise<void> {
    const { clock, batchIntervalMs: interval } = this.options;
    for (const record of this.pending) {
      if (!this.control.isActive()) break;
      await this.runAndComplete(record, true);
    }
    let time = firstBatchTime(clock.now(), this.lastBatchTime, interval);
    while (this.control.isActive()) {
      await clock.sleep(time - clock.now(), this.control.wake);
      if (!this.control.isActive()) break;
      const info = await this.runNewBatch(time);
      if (this.options.stopWhenIdle && info.numRecords === 0) {
        this.logger.info({ batchTime: time }, 'no new input: stopping (stopWhenIdle)');
        this.control.stopSoon();
      }
      time += interval;
    }
    if (this.control.graceful() && this.checkpointer.hasUnrecordedCompletion()) {
      await this.writeCheckpoint('complete', undefined);
    }
  }

  /** Closes sources and sinks and drops input read ahead; safe after a failed open. */
  async close(): Promise<void> {
    this.readAhead?.clear();
    await closeEndpoints(this.graph, this.logger);
  }

  // ---- one new batch: source -> plan -> write-ahead -> compute -> sink -> complete ----

  private async runNewBatch(time: number): Promise<BatchInfo> {
    const { record, lag } = await this.planBatch(time);
    this.readAhead?.keepOnly(record.ranges);
    await this.writeCheckpoint('plan', time);
    const partitionsOf = (name: string) => record.ranges.filter((r) => r.source === name).length;
    const next = { time: time + this.options.batchIntervalMs, ranges: predictNextRanges(record.ranges, lag, (name) => this.rates.certainCapOf(name, partitionsOf(name))) };
    return this.runAndComplete(record, false, lag, next);
  }

  /** Decides the exact ranges of every source for a new batch; not yet durable. */
  private async planBatch(time: number): Promise<{ record: BatchRecord; lag: Record<string, Record<string, number>> }> {
    const ranges: OffsetRange[] = [];
    const next = new Map<string, PartitionOffsets>();
    const lag: Record<string, Record<string, number>> = {};
    for (const [name, source] of this.graph.sources) {
      const limits = {
        staticCap: this.rates.capOf(name),
        batchCap: this.options.maxRecordsPerBatch,
        rate: this.rates.rateOf(name),
        batchIntervalMs: this.options.batchIntervalMs,
      };
      const plan = await this.retrying(`planning source "${name}"`, () => planSource(source, this.checkpointer.offsetsOf(name), limits, this.logger, this.ownerOf(source)));
      ranges.push(...plan.ranges);
      next.set(name, plan.next);
      lag[name] = plan.lag;
    }
    const record: BatchRecord = { time, ranges, completed: false };
    this.checkpointer.addPlan(record, next);
    return { record, lag };
  }

  /** The partitions of `source` this task owns (its partition number); undefined outside a group. */
  private ownerOf(source: Source<unknown>): ((partition: string) => boolean) | undefined {
    const task = this.options.task;
    return task ? (partition: string) => partitionNumberOf(source, partition) === task.id : undefined;
  }

  /** Write-ahead: the plan is durable before any output of its batch runs. */
  private async writeCheckpoint(why: 'plan' | 'complete', batchTime: number | undefined): Promise<void> {
    const time = batchTime ?? 0;
    await this.point(why === 'plan' ? 'plan:before-write' : 'complete:before-write', time, 1);
    const started = performance.now();
    const { durable, retireBefore, seq } = await this.retrying('writing a checkpoint', () => this.checkpointer.write());
    this.bus.emit('onCheckpointWritten', { seq, batchTime: time, durationMs: performance.now() - started, epoch: this.epochValue! });
    if (why === 'plan') await this.point('plan:after-write', time, 1);
    await this.afterDurable(durable, retireBefore);
  }

  /** Computes and outputs a batch from its logged plan, then applies its state and marks it complete. */
  private async runAndComplete(
    record: BatchRecord,
    replay: boolean,
    lag?: BatchInfo['lag'],
    /** The next batch's ranges known already: read while this batch's outputs run. */
    next?: Pick<BatchRecord, 'time' | 'ranges'>,
  ): Promise<BatchInfo> {
    const { info, generation } = await runBatch(this.runnerEnv(next), record, replay, lag);
    for (const operator of this.graph.stateful) operator.commit(generation);
    this.history.forgetBefore(record.time);
    this.checkpointer.markCompleted(record.time);
    this.rates.update(info);
    await this.snapshots.snapshotIfDue(this.checkpointer, record.time);
    return info;
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
      if (!sink?.retire) continue;
      await this.retrying(`pruning the markers of output "${output.name}"`, () => sink.retire!({ appId: this.appId, epoch: this.epochValue!, before: retireBefore }));
    }
  }

  private runnerEnv(next?: Pick<BatchRecord, 'time' | 'ranges'>): BatchRunnerEnv {
    const readAhead = this.readAhead;
    return {
      ...(readAhead && next && next.ranges.length > 0
        ? { beforeOutputs: () => readAhead.start(next.ranges, { appId: this.appId, batchTime: next.time, attempt: 1, logger: this.logger }) }
        : {}),
      appId: this.appId,
      epoch: this.epochValue!,
      graph: this.graph,
      concurrency: this.options.maxConcurrentPartitions,
      clock: this.options.clock,
      logger: this.logger,
      bus: this.bus,
      retry: this.retryPolicy(),
      signal: this.control.abort,
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
      signal: this.control.abort,
    };
  }

  private async point(point: ProtocolPoint, batchTime: number, attempt: number): Promise<void> {
    await this.options.atProtocolPoint?.(point, { batchTime, attempt });
  }
}

/** The first new batch time: the next multiple of the interval, strictly after every logged batch. */
export function firstBatchTime(now: number, lastBatchTime: number, interval: number): number {
  const aligned = Math.ceil(now / interval) * interval;
  const afterLogged = (Math.floor(lastBatchTime / interval) + 1) * interval;
  return Math.max(aligned, afterLogged);
}
