import pLimit from 'p-limit';
import type { Coordinator } from '../api/coordinator.js';
import type { Logger } from '../api/logger.js';
import { createDefaultLogger } from '../api/logger.js';
import { assertValidAppId } from '../checkpoint/store.js';
import { MicrobatchError, invalidOption, isMicrobatchError } from '../errors.js';
import { StreamingContext } from './context.js';
import type { StreamingListener } from './listener.js';
import type { StreamingContextOptions } from './options.js';
import { onStopSignals } from './stop-signals.js';

export type TaskContextOptions = Omit<StreamingContextOptions, 'appId' | 'task' | 'stopOnSignals' | 'logger'>;

export interface StreamingGroupOptions {
  /** The application's id: every member of the group uses the same one. Required. */
  appId: string;
  /** Decides which member runs which task. Required: `createKafkaGroupCoordinator(...)` or `createStaticCoordinator(...)`. */
  coordinator: Coordinator;
  /**
   * Builds one task's program on its own context: sources, transformations and outputs, exactly
   * as for a single process. Called each time this member starts a task, and once more at start
   * for a check of the program (task 0, never started or opened), so create clients lazily. Required.
   */
  build: (ssc: StreamingContext, task: number) => void;
  /**
   * Options of every task's context, or a function of the task giving them; the group sets
   * `appId`, `task`, `stopOnSignals` and `logger`. Required: `batchIntervalMs`, `checkpoint`.
   */
  context: TaskContextOptions | ((task: number) => TaskContextOptions);
  /**
   * Acknowledges that shuffles (reduceByKey, join, repartition, keyed state...) combine the
   * records of one task only. Their result equals a single process's only when records with the
   * same key share a partition number in every source (co-partitioned input, e.g. produced with
   * that key), or when the output aggregates additively. A program that shuffles fails start with
   * INVALID_OPTION unless this is true. Default false.
   */
  shufflesWithinTask?: boolean;
  /** How long a revoked task's batch in flight may run on before it is abandoned (it stays pending for the next owner). Default 10000. */
  revokeTimeoutMs?: number;
  /**
   * A task fenced here that the newest assignment still gives this member is started again after
   * this pause (the fence came from a member acting on an older assignment). Default 2000.
   */
  refenceDelayMs?: number;
  /** Stop gracefully on SIGINT and SIGTERM. Default true. */
  stopOnSignals?: boolean;
  /** Default: createDefaultLogger({ appId }); each task logs through a child with `task`. */
  logger?: Logger;
}

/** Tasks a member starts at once after an assignment. */
const TASK_STARTS_AT_ONCE = 4;

/** Why a task stopped running in this member. */
export type TaskStopReason = 'revoked' | 'fenced' | 'idle' | 'stopped' | 'failed';

/**
 * Group events. `forTask` attaches a listener to each task's context as it starts; it gets the
 * context too (its `description`, `epoch`), for status pages.
 */
export interface GroupListener {
  onAssignment?(event: { readonly tasks: readonly number[] }): void;
  onTaskStarted?(event: { readonly task: number; readonly appId: string; readonly epoch: number }): void;
  onTaskStopped?(event: { readonly task: number; readonly reason: TaskStopReason; readonly error?: unknown }): void;
  forTask?(task: number, context: StreamingContext): StreamingListener | undefined;
}

interface RunningTask {
  readonly ssc: StreamingContext;
  done: Promise<void>;
  stopping?: TaskStopReason;
}

/**
 * One member of an application run as a group of processes (docs/semantics.md §10). Each task
 * (partition number N of every source) runs in a context of its own with the full write-ahead
 * protocol under `<appId>.task-N`; the coordinator decides which tasks this member runs. A task
 * revoked here stops planning and finishes or abandons its batch in flight; a task fenced by a
 * newer owner stops by itself; any other task failure stops the member.
 */
export class StreamingGroup {
  private readonly logger: Logger;
  private readonly running = new Map<number, RunningTask>();
  private readonly listeners: GroupListener[] = [];
  private state: 'initialized' | 'active' | 'stopping' | 'stopped' = 'initialized';
  private queue: Promise<void> = Promise.resolve();
  private failure: unknown;
  private stopping: Promise<void> | undefined;
  private termination!: Promise<void>;
  private settle!: (error?: unknown) => void;
  private removeSignalHandlers = () => {};
  private readonly revokeTimeoutMs: number;
  private readonly refenceDelayMs: number;
  /** The newest assignment delivered, recorded at once: a queued start of a task no longer in it is skipped. */
  private latest = new Set<number>();
  /** Tasks fenced while this member is still assigned them, waiting for a restart. */
  private readonly refencing = new Map<number, NodeJS.Timeout>();

  constructor(private readonly options: StreamingGroupOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', 'must be an object', options);
    assertValidAppId(options.appId);
    if (!options.coordinator || typeof options.coordinator.start !== 'function') throw invalidOption('coordinator', 'must be a Coordinator', options.coordinator);
    if (typeof options.build !== 'function') throw invalidOption('build', 'must be a function (ssc, task) => void', options.build);
    const revoke = options.revokeTimeoutMs ?? 10_000;
    if (!Number.isSafeInteger(revoke) || revoke < 0) throw invalidOption('revokeTimeoutMs', `must be an integer >= 0, got ${String(revoke)}`, revoke);
    this.revokeTimeoutMs = revoke;
    const refence = options.refenceDelayMs ?? 2000;
    if (!Number.isSafeInteger(refence) || refence < 0) throw invalidOption('refenceDelayMs', `must be an integer >= 0, got ${String(refence)}`, refence);
    this.refenceDelayMs = refence;
    this.logger = options.logger ?? createDefaultLogger({ appId: options.appId });
  }

  get appId(): string {
    return this.options.appId;
  }

  /** Tasks running in this member now, in order. */
  get tasks(): number[] {
    return [...this.running.keys()].sort((a, b) => a - b);
  }

  get status(): 'initialized' | 'active' | 'stopping' | 'stopped' {
    return this.state;
  }

  addListener(listener: GroupListener): void {
    this.listeners.push(listener);
  }

  /** Stops group events to `listener`; the task listeners it attached stay until their tasks stop. */
  removeListener(listener: GroupListener): void {
    const at = this.listeners.indexOf(listener);
    if (at >= 0) this.listeners.splice(at, 1);
  }

  /**
   * Checks the program (one build, not started), joins through the coordinator and starts the
   * tasks of the first assignment. Rejects when the program is refused or a task fails to start.
   */
  async start(): Promise<void> {
    if (this.state !== 'initialized') throw new MicrobatchError('ALREADY_STARTED', `The group is ${this.state}; a group starts once`);
    this.termination = new Promise<void>((resolve, reject) => (this.settle = (error) => (error === undefined ? resolve() : reject(error))));
    this.termination.catch(() => {});
    this.checkProgram();
    this.state = 'active';
    this.installSignalHandlers();
    try {
      await this.options.coordinator.start(
        {
          assigned: (tasks) => {
            this.latest = new Set(tasks);
            this.enqueue(() => this.reassign(tasks));
          },
          failed: (error) => this.fail(error),
        },
        { appId: this.appId, logger: this.logger.child({ component: 'coordinator', coordinator: this.options.coordinator.kind }) },
      );
      await this.queue;
    } catch (error) {
      // A stop asked for while joining (SIGTERM during start) makes the coordinator's start give
      // up with STOPPED: that is the stop going as asked, not a failure.
      if (!(this.state !== 'active' && isMicrobatchError(error, 'STOPPED'))) this.fail(error);
    }
    if (this.failure !== undefined) {
      await this.stop();
      throw this.failure;
    }
  }

  /** Stops every task (gracefully by default), then leaves the group. Resolves when stopped. */
  stop(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.state === 'initialized') {
      this.state = 'stopped';
      this.termination = Promise.resolve();
      return this.termination;
    }
    this.stopping ??= this.stopAll(options.graceful ?? true);
    return this.stopping;
  }

  /** Resolves when the group stops; rejects with the error that stopped it, if any. */
  awaitTermination(): Promise<void> {
    if (this.state === 'initialized') return Promise.reject(new MicrobatchError('NOT_STARTED', 'awaitTermination() before start()'));
    return this.termination;
  }

  private async stopAll(graceful: boolean): Promise<void> {
    this.state = 'stopping';
    for (const timer of this.refencing.values()) clearTimeout(timer);
    this.refencing.clear();
    await Promise.all(this.tasks.map((task) => this.stopTask(task, 'stopped', graceful)));
    try {
      await this.options.coordinator.stop();
    } catch (error) {
      this.logger.error({ err: error }, 'leaving the group failed');
    }
    this.state = 'stopped';
    // Only now: a second SIGTERM during the stop must not kill the process halfway through it.
    this.removeSignalHandlers();
    this.settle(this.failure);
  }

  /** Assignments are handled one at a time, in the order the coordinator delivered them. */
  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((error: unknown) => this.fail(error));
  }

  private async reassign(tasks: readonly number[]): Promise<void> {
    if (this.state !== 'active') return;
    const wanted = new Set(tasks);
    for (const [task, timer] of this.refencing) {
      if (!wanted.has(task)) {
        clearTimeout(timer);
        this.refencing.delete(task);
      }
    }
    this.emit((l) => l.onAssignment?.({ tasks: [...wanted].sort((a, b) => a - b) }));
    const revoked = this.tasks.filter((t) => !wanted.has(t));
    const added = [...wanted].filter((t) => !this.running.has(t)).sort((a, b) => a - b);
    if (revoked.length > 0 || added.length > 0) this.logger.info({ revoked, added, owned: [...wanted].sort((a, b) => a - b) }, 'tasks reassigned');
    await Promise.all(revoked.map((task) => this.stopTask(task, 'revoked', true)));
    // A few at a time: each start waits on the store and sinks (epoch, recovery, state), and a
    // member taking over many tasks after a failover should not start them one by one.
    const limit = pLimit(TASK_STARTS_AT_ONCE);
    await Promise.all(
      added.map((task) =>
        limit(async () => {
          // A newer assignment arrived while this one was being handled: a task it no longer gives
          // this member must not be started (it would fence its rightful owner for nothing).
          if (this.state !== 'active' || !this.latest.has(task)) return;
          await this.startTask(task);
        }),
      ),
    );
  }

  private createTask(task: number): StreamingContext {
    const { context } = this.options;
    const ssc = new StreamingContext({
      ...(typeof context === 'function' ? context(task) : context),
      appId: this.appId,
      task,
      stopOnSignals: false,
      logger: this.logger.child({ task }),
    });
    this.options.build(ssc, task);
    return ssc;
  }

  /** One build that is never started: a program the group refuses fails before it joins. */
  private checkProgram(): void {
    const { shuffles } = this.createTask(0).description;
    if (shuffles.length > 0 && this.options.shufflesWithinTask !== true) {
      throw invalidOption(
        'shufflesWithinTask',
        `the program shuffles (${shuffles.join(', ')}); in a group each shuffle combines one task's records only, which equals a single ` +
          "process's result only for co-partitioned input or additive outputs. Set shufflesWithinTask: true once that holds (docs/semantics.md §10)",
        shuffles,
      );
    }
  }

  private async startTask(task: number): Promise<void> {
    const ssc = this.createTask(task);
    for (const listener of this.listeners) {
      const forTask = listener.forTask?.(task, ssc);
      if (forTask) ssc.addListener(forTask);
    }
    try {
      await ssc.start();
    } catch (error) {
      // Another member took the task's epoch between ours and our first fenced write (members
      // starting close together): the task is theirs now, as for a running task fenced.
      if (!isMicrobatchError(error, 'FENCED')) throw error;
      this.emit((l) => l.onTaskStopped?.({ task, reason: 'fenced', error }));
      this.fenced(task, error);
      return;
    }
    const entry: RunningTask = { ssc, done: Promise.resolve() };
    this.running.set(task, entry);
    entry.done = ssc.awaitTermination().then(
      () => this.taskEnded(task, entry, undefined),
      (error: unknown) => this.taskEnded(task, entry, error),
    );
    this.emit((l) => l.onTaskStarted?.({ task, appId: ssc.appId, epoch: ssc.epoch! }));
  }

  /** Revoked or stopping: the batch in flight may finish within revokeTimeoutMs, then it is abandoned. */
  private async stopTask(task: number, reason: TaskStopReason, graceful: boolean): Promise<void> {
    const entry = this.running.get(task);
    if (!entry) return;
    entry.stopping ??= reason;
    if (graceful) {
      let timer: NodeJS.Timeout | undefined;
      const abandon = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.revokeTimeoutMs)));
      await Promise.race([entry.ssc.stop({ graceful: true }), abandon.then(() => entry.ssc.stop({ graceful: false }))]);
      clearTimeout(timer);
    }
    await entry.ssc.stop({ graceful: false });
    await entry.done;
  }

  /** Never awaits the group's stop: a task's end is part of what a stop waits for. */
  private taskEnded(task: number, entry: RunningTask, error: unknown): void {
    if (this.running.get(task) === entry) this.running.delete(task);
    const reason: TaskStopReason = entry.stopping ?? (error === undefined ? 'idle' : isMicrobatchError(error, 'FENCED') ? 'fenced' : 'failed');
    this.emit((l) => l.onTaskStopped?.({ task, reason, ...(error === undefined ? {} : { error }) }));
    if (reason === 'fenced') {
      this.fenced(task, error);
    } else if (reason === 'failed') {
      this.fail(error);
    } else if (reason === 'idle' && this.running.size === 0 && this.state === 'active') {
      this.logger.info({}, 'every task of this member stopped idle (stopWhenIdle): leaving the group');
      void this.stop();
    }
  }

  /**
   * A fenced task stops here. If the newest assignment still gives it to this member, the fence
   * came from a member acting on an older assignment (or a stale start of ours): start it again
   * after a pause, taking a newer epoch, so that it does not end up running nowhere.
   */
  private fenced(task: number, error: unknown): void {
    this.logger.warn({ task, err: error }, 'task fenced: a newer owner took it over, so this member stopped it');
    if (this.state !== 'active' || !this.latest.has(task) || this.refencing.has(task)) return;
    const timer = setTimeout(() => {
      this.refencing.delete(task);
      this.enqueue(async () => {
        if (this.state === 'active' && this.latest.has(task) && !this.running.has(task)) {
          this.logger.info({ task }, 'the task is still assigned here: starting it again');
          await this.startTask(task);
        }
      });
    }, this.refenceDelayMs);
    timer.unref();
    this.refencing.set(task, timer);
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    this.logger.error({ err: error }, 'the group member stops on an error');
    if (this.state === 'active') void this.stop({ graceful: false });
  }

  private emit(call: (listener: GroupListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch (error) {
        this.logger.warn({ err: error }, 'a group listener threw; ignored');
      }
    }
  }

  private installSignalHandlers(): void {
    if (this.options.stopOnSignals === false) return;
    // Not once: the handlers stay until the stop is done, so a second signal cannot kill the
    // member halfway through leaving the group.
    this.removeSignalHandlers = onStopSignals(this.logger, 'stopping the group member gracefully on signal', () => void this.stop({ graceful: true }), {
      once: false,
    });
  }
}
