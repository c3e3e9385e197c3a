import { Batch } from '../batch.js';
import type { BatchGeneration } from '../dstream/generation.js';
import { batchesIn, isSlideTime } from '../dstream/window.js';
import { KeyedStateOperator, type KeyedStateOptions } from './operator.js';
import type { StateTransaction } from './state-store.js';

export interface WindowSpec {
  windowMs: number;
  slideMs: number;
  intervalMs: number;
}

/**
 * reduceByKeyAndWindow with an inverse function: the windowed value per key is kept as state and
 * moved incrementally at each slide (add what entered, subtract what left) instead of recomputed.
 * Keys the filter rejects (e.g. back at the neutral element) are dropped.
 */
export class IncrementalWindowReduce<K, V> extends KeyedStateOperator<K, V> {
  constructor(
    private readonly parent: (generation: BatchGeneration) => Batch<[K, V]> | undefined,
    private readonly reduce: (a: V, b: V) => V,
    private readonly inverse: (a: V, b: V) => V,
    private readonly filter: ((entry: [K, V]) => boolean) | undefined,
    private readonly window: WindowSpec,
    options: KeyedStateOptions<K, V>,
  ) {
    super(options);
  }

  protected async change(generation: BatchGeneration, tx: StateTransaction<K, V>): Promise<boolean> {
    const { windowMs, slideMs, intervalMs } = this.window;
    const time = generation.time;
    if (!isSlideTime(time, slideMs)) return false;
    const entering = await this.reduceAll(batchesIn(this.parent, generation, time, slideMs, intervalMs));
    const leaving = await this.reduceAll(batchesIn(this.parent, generation, time - windowMs, slideMs, intervalMs));
    for (const [key, value] of leaving) {
      const current = tx.get(key);
      // Absent only after this operator was reset: what leaves was never added.
      if (current !== undefined) tx.set(key, this.inverse(current, value));
    }
    for (const [key, value] of entering) {
      const current = tx.get(key);
      tx.set(key, current === undefined ? value : this.reduce(current, value));
    }
    if (this.filter) {
      for (const entry of [...tx.entries()]) if (!this.filter(entry)) tx.delete(entry[0]);
    }
    return true;
  }

  output(generation: BatchGeneration): Batch<[K, V]> | undefined {
    const tx = this.stateAfter(generation);
    const input = this.parent(generation);
    return tx && this.keyed(generation, tx.entries(), input?.numPartitions ?? 1);
  }

  private async reduceAll(batches: Batch<[K, V]>[]): Promise<Array<[K, V]>> {
    const records = (await Promise.all(batches.map((b) => b.collect()))).flat();
    return Batch.groupWithin(records, (v: V) => v, this.reduce);
  }
}
