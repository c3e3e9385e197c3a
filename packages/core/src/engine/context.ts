import type { Source } from '../api/source.js';
import type { DStream } from '../dstream/dstream.js';
import { StreamGraph } from '../dstream/graph.js';
import { InputDStream } from '../dstream/input.js';
import { MicrobatchError, isMicrobatchError } from '../errors.js';
import { ListenerBus, type StreamingListener } from './listener.js';
import { resolveOptions, type ResolvedOptions, type StreamingContextOptions } from './options.js';
import { onStopSignals } from './stop-signals.js';
import { StreamTask } from './stream-task.js';
import type { Logger } from '../api/logger.js';

export { firstBatchTime } from './stream-task.js';

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
  /** Operations that combine records by key or spread them anew; in a group they see one task's records only. */
  readonly shuffles: readonly string[];
  /** The task this context runs (its partition number), when it is one task of a group. */
  readonly task?: number;
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
  private task: StreamTask | undefined;
  /** Aborted on a non-graceful stop: in-flight reads and writes are abandoned. */
  private readonly abort = new AbortController();
  /** Aborted on any stop: interrupts the wait for the next batch time. */
  private readonly wake = new AbortController();
  private termination!: Promise<void>;
  private graceful = true;
  private removeSignalHandlers = () => {};

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
    return this.task?.epoch;
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
      shuffles: [...this.graph.shuffles],
      ...(this.options.task ? { task: this.options.task.id } : {}),
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
    const task = new StreamTask(this.options, this.graph, this.bus, this.logger, {
      isActive: () => this.state === 'active',
      stopSoon: () => {
        if (this.state === 'active') this.state = 'stopping';
      },
      graceful: () => this.graceful,
      abort: this.abort.signal,
      wake: this.wake.signal,
    });
    this.task = task;
    try {
      await task.open();
    } catch (error) {
      await task.close();
      this.state = 'stopped';
      this.termination = Promise.reject(error);
      this.termination.catch(() => {});
      throw error;
    }
    this.installSignalHandlers();
    this.bus.emit('onStreamingStarted', { time: this.options.clock.now(), epoch: task.epoch!, replayBatches: task.replayBatches });
    this.termination = this.run(task);
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

  /** Runs the task's loop to its end, then closes it; the error that stopped it, if any, is thrown. */
  private async run(task: StreamTask): Promise<void> {
    let failure: unknown;
    try {
      await task.run();
    } catch (error) {
      if (!(isMicrobatchError(error, 'STOPPED') && !this.graceful)) {
        failure = error;
        this.logger.error({ err: error }, 'the streaming context stops on an error');
      }
    } finally {
      this.removeSignalHandlers();
      await task.close();
      this.state = 'stopped';
      this.bus.emit('onStreamingStopped', { time: this.options.clock.now(), error: failure });
    }
    if (failure !== undefined) throw failure;
  }

  private installSignalHandlers(): void {
    if (!this.options.stopOnSignals) return;
    this.removeSignalHandlers = onStopSignals(this.logger, 'stopping gracefully on signal', () => void this.stop({ graceful: true }), { once: true });
  }
}
