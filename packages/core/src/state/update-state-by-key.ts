import type { Batch } from '../batch.js';
import type { BatchGeneration } from '../dstream/generation.js';
import { KeyedMap } from '../hash.js';
import { appendValue, firstValueList } from '../key-fold.js';
import { KeyedStateOperator, type KeyedStateOptions } from './operator.js';
import type { StateTransaction } from './state-store.js';

/**
 * Spark's updateStateByKey: every batch, `update(values, state)` runs for every key that has new
 * values or state; returning undefined removes the key. The output is the whole state.
 */
export class UpdateStateByKey<K, V, S> extends KeyedStateOperator<K, S> {
  constructor(
    private readonly parent: (generation: BatchGeneration) => Batch<[K, V]> | undefined,
    private readonly update: (values: V[], state: S | undefined) => S | undefined,
    options: KeyedStateOptions<K, S>,
  ) {
    super(options);
  }

  protected async change(generation: BatchGeneration, tx: StateTransaction<K, S>): Promise<boolean> {
    const batch = this.parent(generation);
    if (!batch) return false;
    // Grouped within each partition as its records stream in (none of them kept), then merged in
    // partition order, so every key's values stay in input order.
    const grouped = new KeyedMap<K, V[]>();
    for (const [key, values] of await batch.foldByKeyWithin<K, V, V[]>(firstValueList, appendValue).collect()) {
      const seen = grouped.get(key);
      if (!seen) grouped.set(key, values);
      else for (const value of values) seen.push(value);
    }
    // The transaction never writes to the store, so the store can be walked without a copy.
    for (const [key, state] of this.store.entries()) this.apply(tx, key, grouped.get(key) ?? [], state);
    for (const [key, values] of grouped.entries()) if (!this.store.has(key)) this.apply(tx, key, values, undefined);
    return true;
  }

  output(generation: BatchGeneration): Batch<[K, S]> | undefined {
    const tx = this.stateAfter(generation);
    const input = this.parent(generation);
    return tx && this.keyed(generation, tx.entries(), input?.numPartitions ?? 1);
  }

  private apply(tx: StateTransaction<K, S>, key: K, values: V[], state: S | undefined): void {
    const next = this.update(values, state);
    if (next === undefined) tx.delete(key);
    else tx.set(key, next);
  }
}
