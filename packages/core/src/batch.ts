import pLimit from 'p-limit';
import type { OffsetRange } from './api/offsets.js';
import type { OutputContext, PartitionContext } from './api/sink.js';
import { MicrobatchError } from './errors.js';
import { KeyedMap, partitionOf } from './hash.js';

/** One partition of a batch: how to compute it, and the source ranges it derives from. */
export interface PartitionPlan<T> {
  readonly compute: () => Promise<T[]>;
  readonly ranges: readonly OffsetRange[];
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
 */
export class Batch<T> {
  constructor(
    readonly time: number,
    private readonly plans: readonly PartitionPlan<T>[],
    private readonly options: BatchOptions = {},
    /** Shared by bound views of the same batch, so each output does not recompute it. */
    private readonly computed = new Map<number, Promise<T[]>>(),
  ) {}

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

  /** The records of one partition (computed once per batch object). */
  partition(index: number): Promise<T[]> {
    let result = this.computed.get(index);
    if (!result) {
      result = this.planAt(index).compute();
      this.computed.set(index, result);
      // A failed computation must be retried from scratch on the next attempt, not remembered.
      result.catch(() => this.computed.delete(index));
    }
    return result;
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
    return this.derive(this.plans.map((plan, index) => ({ compute: async () => fn(await this.partition(index), index), ranges: plan.ranges })));
  }

  map<U>(fn: (record: T) => U): Batch<U> {
    return this.mapPartitions((records) => records.map(fn));
  }

  flatMap<U>(fn: (record: T) => Iterable<U>): Batch<U> {
    return this.mapPartitions((records) => {
      const out: U[] = [];
      for (const record of records) for (const item of fn(record)) out.push(item);
      return out;
    });
  }

  filter(fn: (record: T) => boolean): Batch<T> {
    return this.mapPartitions((records) => records.filter(fn));
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
      buckets ??= this.mapIndexes((index) => this.partition(index)).then((parts) => {
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
    // The hot path: a plain Map for primitive keys, without a wrapper object per key.
    const primitives = new Map<K, A>();
    let composites: KeyedMap<K, { acc: A }> | undefined;
    for (const [key, value] of records) {
      if (typeof key === 'object' && key !== null) {
        composites ??= new KeyedMap();
        const current = composites.get(key);
        if (current) current.acc = add(current.acc, value);
        else composites.set(key, { acc: init(value) });
        continue;
      }
      const current = primitives.get(key);
      if (current !== undefined || primitives.has(key)) primitives.set(key, add(current as A, value));
      else primitives.set(key, init(value));
    }
    const out: Array<[K, A]> = [...primitives];
    if (composites) for (const [key, { acc }] of composites.entries()) out.push([key, acc]);
    return out;
  }

  private derive<U>(plans: PartitionPlan<U>[]): Batch<U> {
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

function uniqueRanges(ranges: readonly OffsetRange[]): OffsetRange[] {
  const seen = new Map<string, OffsetRange>();
  for (const range of ranges) seen.set(`${range.source}\u0000${range.partition}\u0000${range.from}`, range);
  return [...seen.values()];
}
