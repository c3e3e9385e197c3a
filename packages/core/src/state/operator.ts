import { Batch } from '../batch.js';
import type { BatchGeneration } from '../dstream/generation.js';
import { partitionOf } from '../hash.js';
import { decodeSnapshot, encodeSnapshot, encodeStateEntry, jsonStateCodec, type StateCodec } from './codec.js';
import { StateStore, type StateTransaction } from './state-store.js';

function isPlainJsonScalar(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

/** Values the JSON codec always holds: plain scalars, and flat arrays of them (a [count, sum] total). */
function isPlainJson(value: unknown): boolean {
  return isPlainJsonScalar(value) || (Array.isArray(value) && value.every(isPlainJsonScalar));
}

/** What the engine drives for every named stateful operator, once per batch, in graph order. */
export interface StatefulOperator {
  readonly name: string;
  /** Computes the state change of the generation's batch, without applying it. */
  prepare(generation: BatchGeneration): Promise<void>;
  /** Applies the change prepared for that generation (after the whole batch succeeded). */
  commit(generation: BatchGeneration): void;
  /** Streams the committed state. */
  snapshot(batchTime: number): AsyncIterable<Uint8Array>;
  restore(data: AsyncIterable<Uint8Array>, batchTime: number, where: string): Promise<void>;
  /** Back to the initial state (first start, or a reset stream). */
  reset(): void;
}

export interface KeyedStateOptions<K, S> {
  /** Stable operator name; keys its state in the checkpoint. Required. */
  name: string;
  /** Partitions of the operator's output. Default: the input batch's partition count. */
  numPartitions?: number;
  /** State on a first start (or after a reset). Default: empty. */
  initialState?: Iterable<readonly [K, S]>;
  /** How state entries are written to snapshots. Default: jsonStateCodec. */
  codec?: StateCodec;
}

/** Shared mechanics of keyed state: per-batch transactions, snapshots, hash-partitioned output. */
export abstract class KeyedStateOperator<K, S> implements StatefulOperator {
  protected readonly store = new StateStore<K, S>();
  private readonly transactions = new WeakMap<BatchGeneration, StateTransaction<K, S>>();
  private readonly codec: StateCodec;
  private readonly initial: Array<readonly [K, S]>;

  protected constructor(protected readonly options: KeyedStateOptions<K, S>) {
    this.codec = options.codec ?? jsonStateCodec;
    this.initial = [...(options.initialState ?? [])];
  }

  get name(): string {
    return this.options.name;
  }

  /** Fills `tx` with the batch's changes; returns false when the operator has no batch at this time. */
  protected abstract change(generation: BatchGeneration, tx: StateTransaction<K, S>): Promise<boolean>;

  async prepare(generation: BatchGeneration): Promise<void> {
    // Each changed value is encoded right away, so a value the codec cannot hold fails this batch;
    // plain scalars and flat arrays of them under the JSON codec need no trial.
    const tx = this.store.begin((key, value) => {
      if (this.codec === jsonStateCodec && isPlainJsonScalar(key) && isPlainJson(value)) return;
      encodeStateEntry(this.codec, this.name, [key, value], key);
    });
    if (await this.change(generation, tx)) this.transactions.set(generation, tx);
  }

  commit(generation: BatchGeneration): void {
    this.transactions.get(generation)?.commit();
  }

  /** The state after the generation's batch, or undefined when the operator has no batch then. */
  stateAfter(generation: BatchGeneration): StateTransaction<K, S> | undefined {
    return this.transactions.get(generation);
  }

  snapshot(batchTime: number): AsyncIterable<Uint8Array> {
    return encodeSnapshot(this.name, batchTime, this.store.entries(), this.store.size, this.codec);
  }

  async restore(data: AsyncIterable<Uint8Array>, batchTime: number, where: string): Promise<void> {
    this.store.clear();
    await decodeSnapshot(data, this.codec, { operator: this.name, batchTime, where }, (key, value) => this.store.set(key as K, value as S));
  }

  reset(): void {
    this.store.replace(this.initial);
  }

  /**
   * Entries hash-partitioned by key, in a stable order. The batch does not keep the [key, value]
   * records it hands out: each read builds them again from the keys and values held here, since
   * outputs emit the whole state every batch and holding it twice would double its memory.
   */
  protected keyed<V>(generation: BatchGeneration, entries: Iterable<readonly [K, V]>, inputPartitions: number): Batch<[K, V]> {
    const n = this.options.numPartitions ?? Math.max(1, inputPartitions);
    const keys: K[][] = Array.from({ length: n }, () => []);
    const values: V[][] = Array.from({ length: n }, () => []);
    for (const [key, value] of entries) {
      const partition = partitionOf(key, n);
      keys[partition]!.push(key);
      values[partition]!.push(value);
    }
    const plans = keys.map((partKeys, partition) => ({
      keep: false,
      ranges: generation.ranges,
      compute: async () => partKeys.map((key, i): [K, V] => [key, values[partition]![i]!]),
    }));
    return new Batch(generation.time, plans, { concurrency: generation.concurrency });
  }
}
