import { KeyedMap } from '../../hash.js';
import { KeyFold, appendValue, firstValueList } from '../../key-fold.js';
import type { Aggregation, EventWindow, WindowKind, WindowTransaction } from './window-kind.js';

/** One open session of a key: [start, end) where end is its newest event time plus the gap. */
interface Session<A> {
  readonly start: number;
  readonly end: number;
  readonly acc: A;
}

type Timed<V> = readonly [number, V];
type SessionPartial<K, V> = KeyFold<K, Timed<V>, Timed<V>[]>;

/**
 * Session windows: a key's records whose event times are less than `gap` apart form one session
 * [first, last + gap); a record that bridges two sessions merges them. Sessions of a key are kept
 * sorted by start and never overlap.
 */
export class SessionWindows<K, V, A> implements WindowKind<K, V, A, SessionPartial<K, V>> {
  private readonly committed = new KeyedMap<K, Session<A>[]>();

  constructor(
    private readonly gapMs: number,
    private readonly aggregation: Aggregation<V, A>,
    private readonly check: (key: unknown, value: A) => void,
  ) {}

  get spec() {
    return { kind: 'session', gapMs: this.gapMs };
  }

  get size(): number {
    return this.committed.size;
  }

  newPartial(): SessionPartial<K, V> {
    return new KeyFold(firstValueList, appendValue);
  }

  add(partial: SessionPartial<K, V>, key: K, value: V, eventTime: number): void {
    partial.push(key, [eventTime, value]);
  }

  begin(): WindowTransaction<K, A, SessionPartial<K, V>> {
    return new SessionTransaction(this.committed, this.gapMs, this.aggregation, this.check);
  }

  *entries(): Iterable<[unknown, unknown]> {
    for (const [key, sessions] of this.committed.entries()) yield [[key], sessions.map((s) => [s.start, s.end, s.acc])];
  }

  restoreEntry(key: unknown, value: unknown): void {
    const [k] = key as [K];
    this.committed.set(k, (value as [number, number, A][]).map(([start, end, acc]) => ({ start, end, acc })));
  }

  clear(): void {
    this.committed.clear();
  }
}

class SessionTransaction<K, V, A> implements WindowTransaction<K, A, SessionPartial<K, V>> {
  /** Copy-on-write per key: the key's sessions after this batch. */
  private readonly staged = new KeyedMap<K, Session<A>[]>();
  private readonly touched = new Set<Session<A>>();

  constructor(
    private readonly committed: KeyedMap<K, Session<A>[]>,
    private readonly gapMs: number,
    private readonly aggregation: Aggregation<V, A>,
    private readonly check: (key: unknown, value: A) => void,
  ) {}

  apply(partials: readonly SessionPartial<K, V>[]): void {
    const byKey = new KeyFold<K, Timed<V>[], Timed<V>[]>(
      (records) => [...records],
      (all, records) => {
        for (const r of records) all.push(r);
        return all;
      },
    );
    for (const partial of partials) for (const [key, records] of partial.entries()) byKey.push(key, records);
    for (const [key, records] of byKey.entries()) {
      // Stable sort: records with equal event times keep their (deterministic) input order.
      records.sort((a, b) => a[0] - b[0]);
      let sessions = [...(this.staged.get(key) ?? this.committed.get(key) ?? [])];
      for (const [eventTime, value] of records) sessions = this.insert(key, sessions, eventTime, value);
      this.staged.set(key, sessions);
    }
  }

  close(watermark: number): EventWindow<K, A>[] {
    const out: EventWindow<K, A>[] = [];
    for (const key of this.keys()) {
      const sessions = this.current(key);
      if (!sessions.some((s) => s.end <= watermark)) continue;
      for (const s of sessions) if (s.end <= watermark) out.push({ key, start: s.start, end: s.end, value: s.acc });
      this.staged.set(
        key,
        sessions.filter((s) => s.end > watermark),
      );
    }
    return out;
  }

  changed(): EventWindow<K, A>[] {
    const out: EventWindow<K, A>[] = [];
    for (const [key, sessions] of this.staged.entries()) {
      for (const s of sessions) if (this.touched.has(s)) out.push({ key, start: s.start, end: s.end, value: s.acc });
    }
    return out;
  }

  commit(): void {
    for (const [key, sessions] of this.staged.entries()) {
      if (sessions.length === 0) this.committed.delete(key);
      else this.committed.set(key, sessions);
    }
    this.staged.clear();
  }

  /** Committed keys in their order, then keys new in this batch. */
  private keys(): K[] {
    const keys = [...this.committed.entries()].map(([key]) => key);
    for (const [key] of this.staged.entries()) if (!this.committed.has(key)) keys.push(key);
    return keys;
  }

  private current(key: K): Session<A>[] {
    return this.staged.get(key) ?? this.committed.get(key) ?? [];
  }

  /** Adds one record as the session [t, t + gap) and merges every session it overlaps, in start order. */
  private insert(key: K, sessions: Session<A>[], eventTime: number, value: V): Session<A>[] {
    const { init, merge } = this.aggregation;
    let merged: Session<A> = { start: eventTime, end: eventTime + this.gapMs, acc: init(value) };
    const kept: Session<A>[] = [];
    for (const s of sessions) {
      if (s.start < merged.end && merged.start < s.end) {
        const [first, second] = s.start <= merged.start ? [s, merged] : [merged, s];
        merged = { start: Math.min(s.start, merged.start), end: Math.max(s.end, merged.end), acc: merge(first.acc, second.acc) };
      } else kept.push(s);
    }
    this.check([key], merged.acc);
    this.touched.add(merged);
    kept.push(merged);
    return kept.sort((a, b) => a.start - b.start);
  }
}
