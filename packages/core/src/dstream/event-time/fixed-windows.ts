import { KeyedMap } from '../../hash.js';
import type { Aggregation, EventWindow, WindowKind, WindowTransaction } from './window-kind.js';

/**
 * One window start's fold of one partition's records, in first-seen key order (primitive keys,
 * then composite ones). forEach hands out entries without building [key, value] pairs.
 */
class WindowFold<K, V, A> {
  private readonly primitives = new Map<K, A>();
  private composites: KeyedMap<K, A> | undefined;

  push(key: K, value: V, aggregation: Aggregation<V, A>): void {
    if (typeof key === 'object' && key !== null) {
      this.composites ??= new KeyedMap();
      const current = this.composites.get(key);
      this.composites.set(key, current === undefined && !this.composites.has(key) ? aggregation.init(value) : aggregation.add(current as A, value));
      return;
    }
    const current = this.primitives.get(key);
    this.primitives.set(key, current === undefined && !this.primitives.has(key) ? aggregation.init(value) : aggregation.add(current as A, value));
  }

  forEach(fn: (acc: A, key: K) => void): void {
    this.primitives.forEach(fn);
    if (this.composites) for (const [key, acc] of this.composites.entries()) fn(acc, key);
  }
}

/** Per window start, a fold of the batch's records of one partition; the last start is cached (input is mostly ordered). */
interface FixedPartial<K, V, A> {
  readonly folds: Map<number, WindowFold<K, V, A>>;
  lastStart: number;
  lastFold: WindowFold<K, V, A> | undefined;
}

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

  get spec() {
    return { kind: 'fixed', sizeMs: this.sizeMs, slideMs: this.slideMs };
  }

  get size(): number {
    let n = 0;
    for (const windows of this.committed.values()) n += windows.size;
    return n;
  }

  newPartial(): FixedPartial<K, V, A> {
    return { folds: new Map(), lastStart: Number.NaN, lastFold: undefined };
  }

  add(partial: FixedPartial<K, V, A>, key: K, value: V, eventTime: number): void {
    const { sizeMs, slideMs, aggregation } = this;
    // Every window [s, s + size) with s <= eventTime < s + size: one when tumbling.
    for (let start = Math.floor(eventTime / slideMs) * slideMs; start > eventTime - sizeMs; start -= slideMs) {
      let fold = start === partial.lastStart ? partial.lastFold : partial.folds.get(start);
      if (!fold) partial.folds.set(start, (fold = new WindowFold()));
      partial.lastStart = start;
      partial.lastFold = fold;
      fold.push(key, value, aggregation);
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
      for (const [start, fold] of partial.folds) {
        const windows = this.writable(start);
        let touched = this.touched.get(start);
        if (!touched) this.touched.set(start, (touched = new KeyedMap()));
        fold.forEach((acc, key) => {
          const current = windows.get(key);
          const next = current === undefined && !windows.has(key) ? acc : merge(current as A, acc);
          this.check(key, next);
          windows.set(key, next);
          // Only update mode reads which windows changed.
          if (this.trackChanges) touched!.set(key, true);
        });
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
