import type { Batch } from '../../batch.js';
import { invalidOption } from '../../errors.js';
import type { StatefulOperator } from '../../state/operator.js';
import type { DStream } from '../dstream.js';
import type { BatchGeneration } from '../generation.js';
import { FixedWindows } from './fixed-windows.js';
import type { LateCounts, LateRecord } from './late-record.js';
import { EventWindowOperator, snapshotCheck } from './operator.js';
import { resolveFixedWindow, resolveGap, resolveWindowOptions, type EventWindowOptions, type ResolvedWatermark, type ResolvedWindowOptions } from './options.js';
import { SessionWindows } from './session-windows.js';
import type { Aggregation, EventWindow, RecordPipe, WindowKind } from './window-kind.js';

/** What DStream hands the builder: how to register a stateful operator and derive streams from it. */
export interface StatefulHooks {
  register(operator: StatefulOperator): void;
  /** A stream of the operator's output; `countsAsReader: false` for one that never reads the input's records. */
  derive<U>(build: (generation: BatchGeneration) => Batch<U> | undefined, countsAsReader: boolean): DStream<U>;
}

/** The window results, with the records that did not go into a window as a side output. */
export interface EventWindowDStream<K, A, S> extends DStream<EventWindow<K, A>> {
  /**
   * Input records (as they were when withWatermark saw them) that were late, and, with
   * `invalidEventTime: 'side-output'`, those without a usable event time; in the input's partitions.
   */
  late(): DStream<LateRecord<S>>;
  /** The watermark the next batch uses, open windows, and the last batch's counts: for monitoring and tests. */
  readonly progress: { readonly watermark: number | null; readonly openWindows: number; readonly lastCounts: LateCounts };
}

/** The event-time part of a watermarked stream; method syntax keeps WatermarkedStream covariant in its types. */
interface EventTimes<S, T> {
  extract(record: S): number;
  /**
   * The map/filter/flatMap applied since withWatermark, fused: given where its records go, a
   * function taking one input record. Built once per partition, so no closure per record.
   */
  pipe(emit: (record: T) => void): RecordPipe<S>;
  readonly spec: ResolvedWatermark;
}

/**
 * A stream with event times and a watermark: `stream.withWatermark((r) => r.ts, { delayMs })`.
 * `map`, `filter` and `flatMap` keep each record's event time (taken from the record as it was at
 * withWatermark); the window operators keep their windows and the watermark as named state
 * (docs/semantics.md §9). `S` is the record type at withWatermark, `T` the current one.
 */
export class WatermarkedStream<S, T = S> {
  constructor(
    private readonly stream: DStream<S>,
    private readonly events: EventTimes<S, T>,
    private readonly hooks: StatefulHooks,
  ) {}

  map<U>(fn: (record: T) => U): WatermarkedStream<S, U> {
    return this.then((record, emit) => emit(fn(record)));
  }

  filter(fn: (record: T) => boolean): WatermarkedStream<S, T> {
    return this.then((record, emit) => {
      if (fn(record)) emit(record);
    });
  }

  flatMap<U>(fn: (record: T) => Iterable<U>): WatermarkedStream<S, U> {
    return this.then((record, emit) => {
      for (const item of fn(record)) emit(item);
    });
  }

  /**
   * Per key, `reduce` over tumbling (slideMs = sizeMs, the default) or sliding event-time windows
   * [start, start + sizeMs), starts at multiples of slideMs.
   */
  reduceByKeyAndEventWindow<K, V>(
    this: WatermarkedStream<S, [K, V]>,
    reduce: (a: V, b: V) => V,
    sizeMs: number,
    slideMs?: number,
    options?: EventWindowOptions,
  ): EventWindowDStream<K, V, S> {
    const { sizeMs: size, slideMs: slide } = resolveFixedWindow(sizeMs, slideMs);
    const resolved = resolveWindowOptions(options);
    return this.build(new FixedWindows<K, V, V>(size, slide, reducing(reduce), snapshotCheck(resolved.name), resolved.outputMode === 'update'), resolved);
  }

  /** Per key, every value of each tumbling or sliding event-time window, in input order. */
  windowByEventTime<K, V>(this: WatermarkedStream<S, [K, V]>, sizeMs: number, slideMs?: number, options?: EventWindowOptions): EventWindowDStream<K, V[], S> {
    const { sizeMs: size, slideMs: slide } = resolveFixedWindow(sizeMs, slideMs);
    const resolved = resolveWindowOptions(options);
    return this.build(new FixedWindows<K, V, V[]>(size, slide, collecting<V>(), snapshotCheck(resolved.name), resolved.outputMode === 'update'), resolved);
  }

  /** Per key, `reduce` over session windows: records less than `gapMs` apart in event time form one session [first, last + gapMs). */
  reduceByKeyAndSessionWindow<K, V>(this: WatermarkedStream<S, [K, V]>, reduce: (a: V, b: V) => V, gapMs: number, options?: EventWindowOptions): EventWindowDStream<K, V, S> {
    const gap = resolveGap(gapMs);
    const resolved = resolveWindowOptions(options);
    return this.build(new SessionWindows<K, V, V>(gap, reducing(reduce), snapshotCheck(resolved.name)), resolved);
  }

  private then<U>(step: (record: T, emit: (out: U) => void) => void): WatermarkedStream<S, U> {
    const { events } = this;
    return new WatermarkedStream<S, U>(
      this.stream,
      {
        extract: (record) => events.extract(record),
        pipe: (emit) => events.pipe((t) => step(t, emit)),
        spec: events.spec,
      },
      this.hooks,
    );
  }

  private build<K, V, A, P>(this: WatermarkedStream<S, [K, V]>, kind: WindowKind<K, V, A, P>, options: ResolvedWindowOptions): EventWindowDStream<K, A, S> {
    const { events } = this;
    const operator = new EventWindowOperator<S, K, V, A, P>(
      (g) => this.stream.batchFor(g),
      (record) => events.extract(record),
      (emit) => events.pipe(emit),
      events.spec,
      kind,
      options,
    );
    this.hooks.register(operator);
    const results = this.hooks.derive((g) => operator.results(g), true);
    let late: DStream<LateRecord<S>> | undefined;
    const extra = {
      // Not a reader of the input: a second reader would make the input's batches keep their records.
      late: () => (late ??= this.hooks.derive((g) => operator.late(g), false)),
      progress: {
        get watermark() {
          return operator.currentWatermark;
        },
        get openWindows() {
          return operator.openWindows;
        },
        get lastCounts() {
          return operator.lastCounts;
        },
      },
    };
    return Object.assign(results, extra) as EventWindowDStream<K, A, S>;
  }
}

function reducing<V>(reduce: (a: V, b: V) => V): Aggregation<V, V> {
  if (typeof reduce !== 'function') throw invalidOption('reduce', 'must be a function (a, b) => value', reduce);
  return { init: (v) => v, add: reduce, merge: reduce };
}

function collecting<V>(): Aggregation<V, V[]> {
  return {
    init: (v) => [v],
    // The batch's own arrays are fresh, so adding to them in place is safe; merge never mutates committed ones.
    add: (values, v) => {
      values.push(v);
      return values;
    },
    merge: (a, b) => [...a, ...b],
  };
}
