import pLimit from 'p-limit';
import type { OffsetRange } from './api/offsets.js';
import type { OutputContext, PartitionContext } from './api/sink.js';
import { MicrobatchError } from './errors.js';
import { partitionOf } from './hash.js';
import { KeyFold } from './key-fold.js';

/** One partition of a batch: how to compute it, and the source ranges it derives from. */
export interface PartitionPlan<T> {
  readonly compute: () => Promise<T[]>;
  readonly ranges: readonly OffsetRange[];
  /**
   * Set by map, filter and flatMap: streams the partition's records into `emit` through the fused
   * chain of stages, so a single consumer gets them without an intermediate array being built.
   */
  readonly stream?: (emit: (record: T) => void) => Promise<void>;
  /**
   * False when computing the partition again is cheap, pure and costs less than holding it (a
   * stateful operator's output, rebuilt from its state): the batch then never keeps it.
   */
  readonly keep?: boolean;
}

export interface BatchOptions {
  /** How many partitions are computed or written at once. Default 4. */
  readonly concurrency?: number;
  /** Set when the batch is handed to an output operation. */
  readonly output?: OutputContext;
}

/**
 * The records of one batch time (Spark's RDD): partitioned, computed lazily, each partition at
 * most once per batch object, so several outputs of the same stream share one read.
 *
 * Narrow transformations (map, filter, flatMap, mapPartitions) are fused, as Spark pipelines
 * them: a batch read by a single consumer streams its records to it without keeping them. A batch
 * read by several (marked shared, handed to an output, or derived from twice) keeps each
 * partition on first read, so the functions upstream still run once per batch attempt.
 */
export class Batch<T> {
  private derivations = 0;
  private shared: boolean;

  constructor(
    readonly time: number,
    private readonly plans: readonly PartitionPlan<T>[],
    private readonly options: BatchOptions = {},
    /** Shared by bound views of the same batch, so each output does not recompute it. */
    private readonly computed = new Map<number, Promise<T[]>>(),
  ) {
    this.shared = options.output !== undefined;
  }

  /** A batch of already materialized partitions, e.g. to drive a sink in a test. */
  static fromPartitions<T>(time: number, partitions: readonly (readonly T[])[], ranges: readonly (readonly OffsetRange[])[] = []): Batch<T> {
    return new Batch(
      time,
      partitions.map((records, i) => ({ compute: async () => [...records], ranges: ranges[i] ?? [] })),
    );
  }

  get numPartitions(): number {
    return this.plans.length;
  }

  get concurrency(): number {
    return this.options.concurrency ?? 4;
  }

  /** Every distinct source range the batch derives from. */
  get offsetRanges(): readonly OffsetRange[] {
    return uniqueRanges(this.plans.flatMap((p) => p.ranges));
  }

  partitionRanges(index: number): readonly OffsetRange[] {
    return this.planAt(index).ranges;
  }

  /** The records of one partition: computed once per batch object, unless its plan says `keep: false`. */
  partition(index: number): Promise<T[]> {
    let result = this.computed.get(index);
    if (!result) {
      const plan = this.planAt(index);
      if (plan.keep === false) return plan.compute();
      result = plan.compute();
      this.computed.set(index, result);
      // A failed computation must be retried from scratch on the next attempt, not remembered.
      result.catch(() => this.computed.delete(index));
    }
    return result;
  }

  /** Declares that more than one consumer reads this batch (see the class comment). */
  markShared(): this {
    this.shared = true;
    return this;
  }

  /** Streams one partition's records into `emit`: fused when this batch has one consumer, else from the kept partition. */
  async pull(index: number, emit: (record: T) => void): Promise<void> {
    const { stream } = this.planAt(index);
    if (stream && this.readsOnce(index)) return stream(emit);
    for (const record of await this.records(index)) emit(record);
  }

  /** This batch handed to an output operation: `foreachPartition` gets a full PartitionContext. */
  bind(output: OutputContext): Batch<T> {
    return new Batch(this.time, this.plans, { ...this.options, output }, this.computed);
  }

  async foreachPartition(fn: (records: T[], context: PartitionContext) => void | Promise<void>): Promise<void> {
    const output = this.options.output;
    if (!output) {
      throw new MicrobatchError('NOT_STARTED', 'foreachPartition needs a batch handed to an output operation (see Batch.bind)');
    }
    await this.forEachIndex(async (index) => {
      const records = await this.partition(index);
      await fn(records, {
        ...output,
        partitionId: index,
        numPartitions: this.numPartitions,
        partitionRanges: this.partitionRanges(index),
      });
    });
  }

  async collect(): Promise<T[]> {
    const parts = await this.mapIndexes((index) => this.partition(index));
    return parts.flat();
  }

  async count(): Promise<number> {
    const parts = await this.mapIndexes(async (index) => (await this.partition(index)).length);
    return parts.reduce((a, b) => a + b, 0);
  }

  // ---- transformations: each returns a new lazy batch ----

  mapPartitions<U>(fn: (records: T[], partitionId: number) => U[] | Promise<U[]>): Batch<U> {
    return this.derive(this.plans.map((plan, index) => ({ compute: async () => fn(await this.records(index), index), ranges: plan.ranges })));
  }

  map<U>(fn: (record: T) => U): Batch<U> {
    return this.pipe((record, emit) => emit(fn(record)));
  }

  flatMap<U>(fn: (record: T) => Iterable<U>): Batch<U> {
    return this.pipe((record, emit: (item: U) => void) => {
      for (const item of fn(record)) emit(item);
    });
  }

  filter(fn: (record: T) => boolean): Batch<T> {
    return this.pipe((record, emit) => {
      if (fn(record)) emit(record);
    });
  }

  /**
   * Folds each partition's [key, value] records by key (Spark's map-side combine), reading them
   * through the fused stages so the pairs are never collected into an array.
   */
  foldByKeyWithin<K, V, A>(this: Batch<[K, V]>, init: (v: V) => A, add: (acc: A, v: V) => A): Batch<[K, A]> {
    return this.derive(
      this.plans.map((plan, index) => ({
        ranges: plan.ranges,
        compute: async () => {
          const fold = new KeyFold<K, V, A>(init, add);
          await this.pull(index, (record) => fold.push(record[0], record[1]));
          return fold.entries();
        },
      })),
    );
  }

  union(...others: Batch<T>[]): Batch<T> {
    const plans: PartitionPlan<T>[] = [];
    for (const batch of [this, ...others]) {
      for (let i = 0; i < batch.numPartitions; i++) {
        plans.push({ compute: () => batch.partition(i), ranges: batch.partitionRanges(i) });
      }
    }
    return this.derive(plans);
  }

  /**
   * Redistributes records over `numPartitions` partitions by a deterministic key: records keep
   * their order within a target partition (by source partition, then position).
   */
  shuffle(numPartitions: number, keyOf: (record: T, index: number) => unknown): Batch<T> {
    let buckets: Promise<T[][]> | undefined;
    const all = () => {
      buckets ??= this.mapIndexes((index) => this.records(index)).then((parts) => {
        const out: T[][] = Array.from({ length: numPartitions }, () => []);
        let position = 0;
        for (const records of parts) {
          for (const record of records) out[partitionOf(keyOf(record, position++), numPartitions)]!.push(record);
        }
        return out;
      });
      buckets.catch(() => (buckets = undefined));
      return buckets;
    };
    const ranges = this.offsetRanges;
    return this.derive(Array.from({ length: numPartitions }, (_, i) => ({ compute: async () => (await all())[i]!, ranges })));
  }

  /**
   * Folds values by key, keeping first-seen key order (deterministic for a deterministic input
   * order): primitive keys first, then composite ones, as KeyedMap iterates.
   */
  static groupWithin<K, V, A>(records: readonly (readonly [K, V])[], init: (v: V) => A, add: (acc: A, v: V) => A): Array<[K, A]> {
    const fold = new KeyFold<K, V, A>(init, add);
    for (const [key, value] of records) fold.push(key, value);
    return fold.entries();
  }

  /** A narrow transformation: `step` maps one record to any number of records, fused with its parent's stages. */
  private pipe<U>(step: (record: T, emit: (out: U) => void) => void): Batch<U> {
    return this.derive(
      this.plans.map((plan, index) => {
        const stream = (emit: (out: U) => void) => this.pull(index, (record) => step(record, emit));
        return { stream, compute: () => collectStream(stream), ranges: plan.ranges };
      }),
    );
  }

  /** One partition's records as an array for a consumer: not kept when this batch has one consumer. */
  private records(index: number): Promise<T[]> {
    if (!this.readsOnce(index)) return this.partition(index);
    const { stream, compute } = this.planAt(index);
    return stream ? collectStream(stream) : compute();
  }

  /** True when nothing else will read this partition, so it need not be kept (see the class comment). */
  private readsOnce(index: number): boolean {
    return !this.shared && this.derivations <= 1 && !this.computed.has(index);
  }

  private derive<U>(plans: PartitionPlan<U>[]): Batch<U> {
    this.derivations++;
    return new Batch(this.time, plans, { concurrency: this.options.concurrency });
  }

  private planAt(index: number): PartitionPlan<T> {
    const plan = this.plans[index];
    if (!plan) throw new RangeError(`Batch ${this.time} has no partition ${index}`);
    return plan;
  }

  private async mapIndexes<U>(fn: (index: number) => Promise<U>): Promise<U[]> {
    const limit = pLimit(this.concurrency);
    return Promise.all(this.plans.map((_, index) => limit(() => fn(index))));
  }

  /**
   * Runs `fn` for every partition and waits for all of them before failing, so a retry of the
   * batch never overlaps partitions of the failed attempt that are still writing.
   */
  private async forEachIndex(fn: (index: number) => Promise<void>): Promise<void> {
    const limit = pLimit(this.concurrency);
    const results = await Promise.allSettled(this.plans.map((_, index) => limit(() => fn(index))));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

async function collectStream<T>(stream: (emit: (record: T) => void) => Promise<void>): Promise<T[]> {
  const out: T[] = [];
  await stream((record) => out.push(record));
  return out;
}

function uniqueRanges(ranges: readonly OffsetRange[]): OffsetRange[] {
  const seen = new Map<string, OffsetRange>();
  for (const range of ranges) seen.set(`${range.source}\u0000${range.partition}\u0000${range.from}`, range);
  return [...seen.values()];
}
