import { KeyedMap } from '../../hash.js';
import { KeyFold } from '../../key-fold.js';
import type { Aggregation, EventWindow, WindowKind, WindowTransaction } from './window-kind.js';

/** Per window start, a fold of the batch's records of one partition. */
type FixedPartial<K, V, A> = Map<number, KeyFold<K, V, A>>;

/**
 * Tumbling (slide = size) and sliding event-time windows [start, start + size), starts at
 * multiples of the slide (from epoch 0, so windows line up across restarts and processes). The
 * state is per window start, so closing windows at the watermark touches only those windows.
 */
export class FixedWindows<K, V, A> implements WindowKind<K, V, A, FixedPartial<K, V, A>> {
  private readonly committed = new Map<number, KeyedMap<K, A>>();

  constructor(
    private readonly sizeMs: number,
    private readonly slideMs: number,
    private readonly aggregation: Aggregation<V, A>,
    /** Called with each staged value, to fail the batch on a value the snapshot cannot hold. */
    private readonly check: (key: unknown, value: A) => void,
    /** Update mode: remember which windows a batch changed. */
    private readonly trackChanges: boolean,
  ) {}

  get size(): number {
    let n = 0;
    for (const windows of this.committed.values()) n += windows.size;
    return n;
  }

  newPartial(): FixedPartial<K, V, A> {
    return new Map();
  }

  add(partial: FixedPartial<K, V, A>, key: K, value: V, eventTime: number): void {
    const { sizeMs, slideMs } = this;
    // Every window [s, s + size) with s <= eventTime < s + size: one when tumbling.
    for (let start = Math.floor(eventTime / slideMs) * slideMs; start > eventTime - sizeMs; start -= slideMs) {
      let fold = partial.get(start);
      if (!fold) partial.set(start, (fold = new KeyFold(this.aggregation.init, this.aggregation.add)));
      fold.push(key, value);
    }
  }

  begin(): WindowTransaction<K, A, FixedPartial<K, V, A>> {
    return new FixedTransaction(this.committed, this.sizeMs, this.aggregation, this.check, this.trackChanges);
  }

  *entries(): Iterable<[unknown, unknown]> {
    for (const [start, windows] of this.committed) for (const [key, value] of windows.entries()) yield [[start, key], value];
  }

  restoreEntry(key: unknown, value: unknown): void {
    const [start, k] = key as [number, K];
    let windows = this.committed.get(start);
    if (!windows) this.committed.set(start, (windows = new KeyedMap()));
    windows.set(k, value as A);
  }

  clear(): void {
    this.committed.clear();
  }
}

class FixedTransaction<K, V, A> implements WindowTransaction<K, A, FixedPartial<K, V, A>> {
  /** Copy-on-write per window start: null for a start closed in this batch. */
  private readonly staged = new Map<number, KeyedMap<K, A> | null>();
  private readonly touched = new Map<number, KeyedMap<K, true>>();

  constructor(
    private readonly committed: Map<number, KeyedMap<K, A>>,
    private readonly sizeMs: number,
    private readonly aggregation: Aggregation<V, A>,
    private readonly check: (key: unknown, value: A) => void,
    private readonly trackChanges: boolean,
  ) {}

  apply(partials: readonly FixedPartial<K, V, A>[]): void {
    const { merge } = this.aggregation;
    for (const partial of partials) {
      for (const [start, fold] of partial) {
        const windows = this.writable(start);
        let touched = this.touched.get(start);
        if (!touched) this.touched.set(start, (touched = new KeyedMap()));
        for (const [key, acc] of fold.entries()) {
          const current = windows.get(key);
          const next = current === undefined && !windows.has(key) ? acc : merge(current as A, acc);
          this.check(key, next);
          windows.set(key, next);
          // Only update mode reads which windows changed.
          if (this.trackChanges) touched.set(key, true);
        }
      }
    }
  }

  close(watermark: number): EventWindow<K, A>[] {
    const starts = new Set([...this.committed.keys(), ...this.staged.keys()]);
    const closing = [...starts].filter((start) => start + this.sizeMs <= watermark && this.current(start)).sort((a, b) => a - b);
    const out: EventWindow<K, A>[] = [];
    for (const start of closing) {
      for (const [key, value] of this.current(start)!.entries()) out.push({ key, start, end: start + this.sizeMs, value });
      this.staged.set(start, null);
    }
    return out;
  }

  changed(): EventWindow<K, A>[] {
    const out: EventWindow<K, A>[] = [];
    for (const start of [...this.touched.keys()].sort((a, b) => a - b)) {
      const windows = this.current(start);
      if (!windows) continue;
      for (const [key] of this.touched.get(start)!.entries()) out.push({ key, start, end: start + this.sizeMs, value: windows.get(key)! });
    }
    return out;
  }

  commit(): void {
    for (const [start, windows] of this.staged) {
      if (windows === null) this.committed.delete(start);
      else this.committed.set(start, windows);
    }
    this.staged.clear();
  }

  private current(start: number): KeyedMap<K, A> | undefined {
    const staged = this.staged.get(start);
    return staged === null ? undefined : (staged ?? this.committed.get(start));
  }

  private writable(start: number): KeyedMap<K, A> {
    let windows = this.staged.get(start);
    if (windows) return windows;
    windows = new KeyedMap();
    // A copy, so a failed attempt leaves the committed windows as they were.
    for (const [key, value] of this.committed.get(start)?.entries() ?? []) windows.set(key, value);
    this.staged.set(start, windows);
    return windows;
  }
}
