import { KeyedMap } from './hash.js';

/**
 * Folds values by key, one at a time, keeping first-seen key order (deterministic for a
 * deterministic input order): primitive keys first, then composite ones, as KeyedMap iterates.
 */
export class KeyFold<K, V, A> {
  // The hot path: a plain Map for primitive keys, holding the accumulator itself.
  private readonly primitives = new Map<K, A>();
  private composites: KeyedMap<K, { acc: A }> | undefined;

  constructor(
    private readonly init: (v: V) => A,
    private readonly add: (acc: A, v: V) => A,
  ) {}

  push(key: K, value: V): void {
    if (typeof key === 'object' && key !== null) {
      this.composites ??= new KeyedMap();
      const current = this.composites.get(key);
      if (current) current.acc = this.add(current.acc, value);
      else this.composites.set(key, { acc: this.init(value) });
      return;
    }
    const current = this.primitives.get(key);
    if (current !== undefined || this.primitives.has(key)) this.primitives.set(key, this.add(current as A, value));
    else this.primitives.set(key, this.init(value));
  }

  entries(): Array<[K, A]> {
    const out: Array<[K, A]> = [...this.primitives];
    if (this.composites) for (const [key, { acc }] of this.composites.entries()) out.push([key, acc]);
    return out;
  }
}

/** KeyFold functions that collect a key's values in input order (groupByKey). */
export const firstValueList = <V>(value: V): V[] => [value];
export const appendValue = <V>(values: V[], value: V): V[] => {
  values.push(value);
  return values;
};
