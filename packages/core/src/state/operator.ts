import { Batch } from '../batch.js';
import type { BatchGeneration } from '../dstream/generation.js';
import { partitionOf } from '../hash.js';
import { decodeSnapshot, encodeSnapshot, encodeStateEntry, jsonStateCodec, type StateCodec } from './codec.js';
import { StateStore, type StateTransaction } from './state-store.js';

function isPlainJsonScalar(value: unknown): boolean {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
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
    // plain numbers, strings and booleans under the JSON codec need no trial.
    const tx = this.store.begin((key, value) => {
      if (this.codec === jsonStateCodec && isPlainJsonScalar(key) && isPlainJsonScalar(value)) return;
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

  /** Records hash-partitioned by key, in a stable order. */
  protected keyed<R>(generation: BatchGeneration, records: Iterable<R>, keyOf: (record: R) => K, inputPartitions: number): Batch<R> {
    const n = this.options.numPartitions ?? Math.max(1, inputPartitions);
    const parts: R[][] = Array.from({ length: n }, () => []);
    for (const record of records) parts[partitionOf(keyOf(record), n)]!.push(record);
    return Batch.fromPartitions(generation.time, parts, parts.map(() => generation.ranges));
  }
}
