/** One result of an event-time window: the aggregate of `key`'s records with event times in [start, end). */
export interface EventWindow<K, A> {
  readonly key: K;
  readonly start: number;
  readonly end: number;
  readonly value: A;
}

/** How values combine: `init` for a window's first value, `add` to fold one more in, `merge` for two folds (never mutating its arguments). */
export interface Aggregation<V, A> {
  init(value: V): A;
  add(acc: A, value: V): A;
  merge(a: A, b: A): A;
}

/**
 * The open windows of one operator (tumbling/sliding or sessions). Changes of a batch are staged
 * in a transaction over the committed windows and applied only when the whole batch succeeded.
 */
export interface WindowKind<K, V, A, Partial> {
  /** What the snapshot records of the windows' shape, so a restart with other windows is refused. */
  readonly spec: Readonly<Record<string, string | number>>;
  /** Per input partition: the batch's on-time records, folded as they stream in. */
  newPartial(): Partial;
  add(partial: Partial, key: K, value: V, eventTime: number): void;
  begin(): WindowTransaction<K, A, Partial>;
  /** Snapshot entries (JSON-safe [key, value] pairs) and their number. */
  entries(): Iterable<[unknown, unknown]>;
  readonly size: number;
  restoreEntry(key: unknown, value: unknown): void;
  clear(): void;
}

export interface WindowTransaction<K, A, Partial> {
  /** Folds the partitions' records in, in partition order. */
  apply(partials: readonly Partial[]): void;
  /** Removes every window whose end is at or below the watermark and returns them, oldest first. */
  close(watermark: number): EventWindow<K, A>[];
  /** The windows this batch changed, with their values after it (update mode). */
  changed(): EventWindow<K, A>[];
  commit(): void;
}

/** Takes one input record at a time (an object with a method, so the stream types stay covariant). */
export interface RecordPipe<S> {
  push(record: S): void;
}
