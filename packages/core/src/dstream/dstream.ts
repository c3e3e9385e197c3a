import type { OutputContext, Sink } from '../api/sink.js';
import { Batch } from '../batch.js';
import { assertMultipleOfInterval } from '../engine/options.js';
import { invalidOption } from '../errors.js';
import { MapWithState, type StateSpec } from '../state/map-with-state.js';
import type { KeyedStateOptions, StatefulOperator } from '../state/operator.js';
import { IncrementalWindowReduce } from '../state/reduce-by-key-and-window.js';
import { UpdateStateByKey } from '../state/update-state-by-key.js';
import { resolveWatermark, type WatermarkOptions } from './event-time/options.js';
import { WatermarkedStream } from './event-time/watermarked-stream.js';
import type { BatchGeneration } from './generation.js';
import type { StreamGraph } from './graph.js';
import * as pair from './pair.js';
import { batchesIn, isSlideTime } from './window.js';

/**
 * A discretized stream: a sequence of batches, one per batch time. Transformations build new
 * streams lazily; output operations (foreachBatch, to, print) make the graph run.
 */
export abstract class DStream<T> {
  /** Streams and outputs reading this stream's batches: with more than one, its batches keep their partitions. */
  private consumers = 0;

  protected constructor(readonly graph: StreamGraph) {}

  /**
   * Streams this one is computed from. A stream has a batch at a time only if its parents do
   * (windows have batches only at their slide times).
   */
  abstract readonly parents: readonly DStream<unknown>[];

  /** True when this stream or an ancestor keeps state across batches. */
  get isStateful(): boolean {
    return this.keepsState || this.parents.some((p) => p.isStateful);
  }

  protected get keepsState(): boolean {
    return false;
  }

  /**
   * How far back (ms) computing one batch of this stream reads earlier batch times: windows add
   * their length to their parent's, so nested windows keep every batch they will read.
   */
  get lookbackMs(): number {
    return Math.max(0, ...this.parents.map((p) => p.lookbackMs)) + this.ownLookbackMs;
  }

  protected get ownLookbackMs(): number {
    return 0;
  }

  protected abstract compute(generation: BatchGeneration): Batch<T> | undefined;

  /** This stream's batch for a generation (built once per generation), or undefined when it has none at that time. */
  batchFor(generation: BatchGeneration): Batch<T> | undefined {
    if (generation.cache.has(this)) return generation.cache.get(this) as Batch<T> | undefined;
    const batch = this.compute(generation);
    if (batch && this.consumers > 1) batch.markShared();
    generation.cache.set(this, batch as Batch<unknown> | undefined);
    return batch;
  }

  /** Called once per stream or output operation reading this stream (see `batchFor`). */
  addConsumer(): void {
    this.consumers++;
  }

  transform<U>(fn: (batch: Batch<T>, batchTime: number) => Batch<U>): DStream<U> {
    return new DerivedDStream(this.graph, [this], (generation) => {
      const batch = this.batchFor(generation);
      return batch && fn(batch, generation.time);
    });
  }

  map<U>(fn: (record: T) => U): DStream<U> {
    return this.transform((batch) => batch.map(fn));
  }

  flatMap<U>(fn: (record: T) => Iterable<U>): DStream<U> {
    return this.transform((batch) => batch.flatMap(fn));
  }

  filter(fn: (record: T) => boolean): DStream<T> {
    return this.transform((batch) => batch.filter(fn));
  }

  mapPartitions<U>(fn: (records: T[], partitionId: number) => U[] | Promise<U[]>): DStream<U> {
    return this.transform((batch) => batch.mapPartitions(fn));
  }

  union(...others: DStream<T>[]): DStream<T> {
    for (const other of others) {
      if (other.graph !== this.graph) throw invalidOption('union', 'streams of different contexts cannot be combined');
    }
    return new DerivedDStream(this.graph, [this, ...others], (generation) => {
      const batches = [this, ...others].map((stream) => stream.batchFor(generation));
      if (batches.some((b) => b === undefined)) return undefined;
      const [first, ...rest] = batches as Batch<T>[];
      return first!.union(...rest);
    });
  }

  /** Redistributes records evenly and deterministically over `numPartitions` partitions. */
  repartition(numPartitions: number): DStream<T> {
    assertPartitions(numPartitions);
    this.graph.noteShuffle('repartition');
    return this.transform((batch) => batch.shuffle(numPartitions, (_record, position) => position));
  }

  /** One record per batch: the number of records (0 for an empty batch). */
  count(): DStream<number> {
    return this.transform((batch) => single(batch, async () => [await batch.count()]));
  }

  /** One record per batch (none for an empty batch): all records reduced with `fn`. */
  reduce(fn: (a: T, b: T) => T): DStream<T> {
    return this.transform((batch) =>
      single(batch, async () => {
        const records = await batch.collect();
        return records.length === 0 ? [] : [records.reduce(fn)];
      }),
    );
  }

  countByValue(numPartitions?: number): DStream<[T, number]> {
    return this.map((record): [T, number] => [record, 1]).reduceByKey((a, b) => a + b, numPartitions);
  }

  // ---- pair streams: DStream<[K, V]> ----

  reduceByKey<K, V>(this: DStream<[K, V]>, fn: (a: V, b: V) => V, numPartitions?: number): DStream<[K, V]> {
    this.graph.noteShuffle('reduceByKey');
    return this.transform((batch) => pair.reduceByKey(batch, fn, partitionsOf(batch, numPartitions)));
  }

  groupByKey<K, V>(this: DStream<[K, V]>, numPartitions?: number): DStream<[K, V[]]> {
    this.graph.noteShuffle('groupByKey');
    return this.transform((batch) => pair.groupByKey(batch, partitionsOf(batch, numPartitions)));
  }

  mapValues<K, V, U>(this: DStream<[K, V]>, fn: (value: V) => U): DStream<[K, U]> {
    return this.map(([key, value]): [K, U] => [key, fn(value)]);
  }

  join<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V, W]]> {
    this.graph.noteShuffle('join');
    return this.combine(other, (l, r) => pair.join(l, r, partitionsOf(l, numPartitions, r)));
  }

  leftOuterJoin<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V, W | undefined]]> {
    this.graph.noteShuffle('leftOuterJoin');
    return this.combine(other, (l, r) => pair.leftOuterJoin(l, r, partitionsOf(l, numPartitions, r)));
  }

  cogroup<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V[], W[]]]> {
    this.graph.noteShuffle('cogroup');
    return this.combine(other, (l, r) => pair.cogroup(l, r, partitionsOf(l, numPartitions, r)));
  }

  // ---- windows (issue: window and slide are multiples of the batch interval) ----

  /**
   * The union of this stream's batches over the last `windowMs`, every `slideMs` (default: the
   * batch interval). Between slide times the window has no batch and its outputs do not run.
   */
  window(windowMs: number, slideMs: number = this.graph.batchIntervalMs): DStream<T> {
    this.assertWindow(windowMs, slideMs);
    const interval = this.graph.batchIntervalMs;
    const windowed = new DerivedDStream(
      this.graph,
      [this],
      (generation) => {
        if (!isSlideTime(generation.time, slideMs)) return undefined;
        const batches = batchesIn((g) => this.batchFor(g), generation, generation.time, windowMs, interval);
        const [first, ...rest] = batches;
        return first ? first.union(...rest) : new Batch<T>(generation.time, [], { concurrency: generation.concurrency });
      },
      { lookbackMs: windowMs },
    );
    this.graph.remember(windowed.lookbackMs);
    return windowed;
  }

  countByWindow(windowMs: number, slideMs?: number): DStream<number> {
    return this.window(windowMs, slideMs).count();
  }

  reduceByWindow(fn: (a: T, b: T) => T, windowMs: number, slideMs?: number): DStream<T> {
    return this.window(windowMs, slideMs).reduce(fn);
  }

  /**
   * Per key, `reduce` over the window. With `inverse`, the windowed values are kept as named state
   * and updated incrementally (add the entering batches, subtract the leaving ones); `filter`
   * drops keys (e.g. those back at the neutral element).
   */
  reduceByKeyAndWindow<K, V>(
    this: DStream<[K, V]>,
    reduce: (a: V, b: V) => V,
    windowMs: number,
    slideMs: number = this.graph.batchIntervalMs,
    options: { inverse?: (a: V, b: V) => V; filter?: (entry: [K, V]) => boolean; numPartitions?: number; name?: string } = {},
  ): DStream<[K, V]> {
    if (!options.inverse) {
      const windowed = this.window(windowMs, slideMs).reduceByKey(reduce, options.numPartitions);
      return options.filter ? windowed.filter(options.filter) : windowed;
    }
    this.assertWindow(windowMs, slideMs);
    if (!options.name) throw invalidOption('name', 'reduceByKeyAndWindow with an inverse function keeps state and needs a stable name');
    this.graph.remember(this.lookbackMs + windowMs + slideMs);
    const operator = new IncrementalWindowReduce<K, V>(
      (g) => this.batchFor(g),
      reduce,
      options.inverse,
      options.filter,
      { windowMs, slideMs, intervalMs: this.graph.batchIntervalMs },
      { name: options.name, ...(options.numPartitions === undefined ? {} : { numPartitions: options.numPartitions }) },
    );
    return this.stateful(operator, (g) => operator.output(g));
  }

  // ---- state across batches: named, snapshotted, restored exactly ----

  /** Spark's updateStateByKey: `update(newValues, state)` for every key each batch; undefined removes the key. */
  updateStateByKey<K, V, S>(
    this: DStream<[K, V]>,
    update: (values: V[], state: S | undefined) => S | undefined,
    options: KeyedStateOptions<K, S>,
  ): DStream<[K, S]> {
    if (typeof update !== 'function') throw invalidOption('update', 'must be a function (values, state) => state');
    const operator = new UpdateStateByKey<K, V, S>((g) => this.batchFor(g), update, options ?? ({} as KeyedStateOptions<K, S>));
    return this.stateful(operator, (g) => operator.output(g));
  }

  /** Spark's mapWithState: see `stateSpec()`. */
  mapWithState<K, V, S, U>(this: DStream<[K, V]>, spec: StateSpec<K, V, S, U>): MapWithStateDStream<K, S, U> {
    const operator = new MapWithState<K, V, S, U>((g) => this.batchFor(g), spec, this.graph.batchIntervalMs);
    this.registerStateful(operator);
    return new MapWithStateDStream(this.graph, [this], operator);
  }

  protected stateful<U>(operator: StatefulOperator, output: (generation: BatchGeneration) => Batch<U> | undefined): DStream<U> {
    this.registerStateful(operator);
    return new DerivedDStream(this.graph, [this], output, { ownState: true });
  }

  private registerStateful(operator: StatefulOperator): void {
    if (typeof operator.name !== 'string' || operator.name === '') {
      throw invalidOption('name', 'stateful operators need a stable, non-empty name option');
    }
    this.graph.addStateful(operator);
  }

  private assertWindow(windowMs: number, slideMs: number): void {
    const interval = this.graph.batchIntervalMs;
    assertMultipleOfInterval('windowMs', windowMs, interval);
    assertMultipleOfInterval('slideMs', slideMs, interval);
    if (this.isStateful) {
      // A window re-reads past batches; past outputs of a stateful operator cannot be recomputed after a restart.
      throw invalidOption('window', 'windows over the output of a stateful operator are not supported; apply the window before it');
    }
  }

  // ---- event time (docs/semantics.md §9; the operators live in ./event-time/) ----

  /** Event times from `extract` (ms) and a watermark `delayMs` behind them: the base of event-time windows. */
  withWatermark(extract: (record: T) => number, options: WatermarkOptions): WatermarkedStream<T> {
    const spec = resolveWatermark(extract, options);
    return new WatermarkedStream<T>(this, { extract, pipe: (emit) => ({ push: emit }), spec }, {
      register: (operator) => this.registerStateful(operator),
      derive: (build, countsAsReader) => new DerivedDStream(this.graph, countsAsReader ? [this] : [], build, { ownState: true }),
    });
  }

  // ---- output operations ----

  /**
   * Runs `fn` for every batch, after the batch's plan is durable. `fn` must be idempotent or
   * transactional (see docs/semantics.md); `name` keys it (default `output-<n>`), keep it stable.
   */
  foreachBatch(fn: (batch: Batch<T>, context: OutputContext) => void | Promise<void>, options: { name?: string } = {}): void {
    this.graph.addOutput({
      name: options.name ?? `output-${this.graph.outputs.length}`,
      stream: this as DStream<unknown>,
      run: async (batch, context) => {
        await fn(batch as Batch<T>, context);
      },
    });
  }

  /** Writes every batch to a sink; the sink's name is the output's name. */
  to(sink: Sink<T>): void {
    if (!sink || typeof sink.write !== 'function' || typeof sink.name !== 'string') {
      throw invalidOption('sink', 'must be a Sink with a name and a write() method', sink);
    }
    if (sink.guarantee !== 'idempotent' && sink.guarantee !== 'transactional') {
      throw invalidOption('sink', `sink "${sink.name}" must declare guarantee 'idempotent' or 'transactional'`, sink.guarantee);
    }
    this.graph.addOutput({
      name: sink.name,
      stream: this as DStream<unknown>,
      sink: sink as Sink<unknown>,
      run: (batch, context) => sink.write(batch as Batch<T>, context),
    });
  }

  /** Prints the first `num` records of every batch, like Spark's print(). */
  print(num = 10, write: (line: string) => void = (line) => console.log(line)): void {
    this.foreachBatch(
      async (batch, context) => {
        const records = await batch.collect();
        write(`-------------------------------------------\nTime: ${context.batchTime} ms\n-------------------------------------------`);
        for (const record of records.slice(0, num)) write(typeof record === 'string' ? record : JSON.stringify(record));
        if (records.length > num) write('...');
      },
      { name: `print-${this.graph.outputs.length}` },
    );
  }

  private combine<U, W, R>(other: DStream<U>, fn: (left: Batch<T>, right: Batch<U>) => Batch<R>): DStream<R> {
    if (other.graph !== this.graph) throw invalidOption('other', 'streams of different contexts cannot be joined');
    return new DerivedDStream(this.graph, [this, other], (generation) => {
      const left = this.batchFor(generation);
      const right = other.batchFor(generation);
      return left && right && fn(left, right);
    });
  }
}

export class DerivedDStream<T> extends DStream<T> {
  constructor(
    graph: StreamGraph,
    readonly parents: readonly DStream<unknown>[],
    private readonly build: (generation: BatchGeneration) => Batch<T> | undefined,
    private readonly own: { readonly ownState?: boolean; readonly lookbackMs?: number } = {},
  ) {
    super(graph);
    for (const parent of parents) parent.addConsumer();
  }

  protected override get keepsState(): boolean {
    return this.own.ownState ?? false;
  }

  protected override get ownLookbackMs(): number {
    return this.own.lookbackMs ?? 0;
  }

  protected compute(generation: BatchGeneration): Batch<T> | undefined {
    return this.build(generation);
  }
}

/** The mapped values of mapWithState; `stateSnapshots()` is the whole state after each batch. */
export class MapWithStateDStream<K, S, U> extends DerivedDStream<U> {
  constructor(
    graph: StreamGraph,
    parents: readonly DStream<unknown>[],
    private readonly operator: { mapped(g: BatchGeneration): Batch<U> | undefined; snapshots(g: BatchGeneration): Batch<[K, S]> | undefined },
  ) {
    super(graph, parents, (g) => operator.mapped(g), { ownState: true });
  }

  stateSnapshots(): DStream<[K, S]> {
    return new DerivedDStream(this.graph, [this], (g) => this.operator.snapshots(g), { ownState: true });
  }
}

function single<T, U>(batch: Batch<T>, compute: () => Promise<U[]>): Batch<U> {
  return new Batch(batch.time, [{ compute, ranges: batch.offsetRanges }], { concurrency: batch.concurrency });
}

function assertPartitions(numPartitions: number): void {
  if (!Number.isSafeInteger(numPartitions) || numPartitions < 1) {
    throw invalidOption('numPartitions', `must be an integer >= 1, got ${numPartitions}`, numPartitions);
  }
}

/** Explicit count, else the parents' partition count (at least 1), like Spark's default. */
function partitionsOf(batch: Batch<unknown>, requested?: number, other?: Batch<unknown>): number {
  if (requested !== undefined) {
    assertPartitions(requested);
    return requested;
  }
  return Math.max(1, batch.numPartitions, other?.numPartitions ?? 0);
}
