import { KeyedMap } from '../hash.js';

/**
 * The committed state of one operator, in a Map keyed by value. Changes of a batch go into a
 * transaction and are applied only when the whole batch succeeded, so a retried batch starts from
 * the same state as its first attempt.
 */
export class StateStore<K, S> {
  private readonly committed = new KeyedMap<K, S>();

  get size(): number {
    return this.committed.size;
  }

  get(key: K): S | undefined {
    return this.committed.get(key);
  }

  has(key: K): boolean {
    return this.committed.has(key);
  }

  entries(): IterableIterator<[K, S]> {
    return this.committed.entries();
  }

  begin(onSet?: (key: K, value: S) => void): StateTransaction<K, S> {
    return new StateTransaction(this.committed, onSet);
  }

  replace(entries: Iterable<readonly [K, S]>): void {
    this.committed.clear();
    for (const [key, value] of entries) this.committed.set(key, value);
  }

  set(key: K, value: S): void {
    this.committed.set(key, value);
  }

  clear(): void {
    this.committed.clear();
  }
}

const DELETED = Symbol('deleted');

export class StateTransaction<K, S> {
  private readonly changes = new KeyedMap<K, S | typeof DELETED>();
  private committedOnce = false;

  constructor(
    private readonly committed: KeyedMap<K, S>,
    private readonly onSet?: (key: K, value: S) => void,
  ) {}

  get(key: K): S | undefined {
    const change = this.changes.get(key);
    if (change === DELETED) return undefined;
    return change !== undefined || this.changes.has(key) ? (change as S) : this.committed.get(key);
  }

  has(key: K): boolean {
    return this.changes.has(key) ? this.changes.get(key) !== DELETED : this.committed.has(key);
  }

  /** Stages a value; setting a key to the value it already holds stages nothing. */
  set(key: K, value: S): void {
    if (this.has(key) && value === this.get(key)) return;
    this.onSet?.(key, value);
    this.changes.set(key, value);
  }

  delete(key: K): void {
    this.changes.set(key, DELETED);
  }

  /** The state as it will be after this batch: committed keys in their order, then new keys. */
  *entries(): IterableIterator<[K, S]> {
    for (const [key, value] of this.committed.entries()) {
      if (!this.changes.has(key)) yield [key, value];
      else {
        const change = this.changes.get(key)!;
        if (change !== DELETED) yield [key, change];
      }
    }
    for (const [key, change] of this.changes.entries()) {
      if (change !== DELETED && !this.committed.has(key)) yield [key, change];
    }
  }

  /** Applies the changes; a transaction commits once. */
  commit(): void {
    if (this.committedOnce) return;
    this.committedOnce = true;
    for (const [key, change] of this.changes.entries()) {
      if (change === DELETED) this.committed.delete(key);
      else this.committed.set(key, change);
    }
  }
}
