import type { OutputContext, Sink } from '../api/sink.js';
import { Batch } from '../batch.js';
import { invalidOption } from '../errors.js';
import type { BatchGeneration } from './generation.js';
import type { StreamGraph } from './graph.js';
import * as pair from './pair.js';

/**
 * A discretized stream: a sequence of batches, one per batch time. Transformations build new
 * streams lazily; output operations (foreachBatch, to, print) make the graph run.
 */
export abstract class DStream<T> {
  protected constructor(readonly graph: StreamGraph) {}

  protected abstract compute(generation: BatchGeneration): Batch<T>;

  /** This stream's batch for a generation, built once per generation. */
  batchFor(generation: BatchGeneration): Batch<T> {
    let batch = generation.cache.get(this) as Batch<T> | undefined;
    if (!batch) {
      batch = this.compute(generation);
      generation.cache.set(this, batch as Batch<unknown>);
    }
    return batch;
  }

  transform<U>(fn: (batch: Batch<T>, batchTime: number) => Batch<U>): DStream<U> {
    return new DerivedDStream(this.graph, (generation) => fn(this.batchFor(generation), generation.time));
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
    return new DerivedDStream(this.graph, (generation) =>
      this.batchFor(generation).union(...others.map((o) => o.batchFor(generation))),
    );
  }

  /** Redistributes records evenly and deterministically over `numPartitions` partitions. */
  repartition(numPartitions: number): DStream<T> {
    assertPartitions(numPartitions);
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
    return this.transform((batch) => pair.reduceByKey(batch, fn, partitionsOf(batch, numPartitions)));
  }

  groupByKey<K, V>(this: DStream<[K, V]>, numPartitions?: number): DStream<[K, V[]]> {
    return this.transform((batch) => pair.groupByKey(batch, partitionsOf(batch, numPartitions)));
  }

  mapValues<K, V, U>(this: DStream<[K, V]>, fn: (value: V) => U): DStream<[K, U]> {
    return this.map(([key, value]): [K, U] => [key, fn(value)]);
  }

  join<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V, W]]> {
    return this.combine(other, (l, r) => pair.join(l, r, partitionsOf(l, numPartitions, r)));
  }

  leftOuterJoin<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V, W | undefined]]> {
    return this.combine(other, (l, r) => pair.leftOuterJoin(l, r, partitionsOf(l, numPartitions, r)));
  }

  cogroup<K, V, W>(this: DStream<[K, V]>, other: DStream<[K, W]>, numPartitions?: number): DStream<[K, [V[], W[]]]> {
    return this.combine(other, (l, r) => pair.cogroup(l, r, partitionsOf(l, numPartitions, r)));
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
    return new DerivedDStream(this.graph, (generation) => fn(this.batchFor(generation), other.batchFor(generation)));
  }
}

export class DerivedDStream<T> extends DStream<T> {
  constructor(
    graph: StreamGraph,
    private readonly build: (generation: BatchGeneration) => Batch<T>,
  ) {
    super(graph);
  }

  protected compute(generation: BatchGeneration): Batch<T> {
    return this.build(generation);
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
