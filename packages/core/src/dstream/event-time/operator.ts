import pLimit from 'p-limit';
import type { OffsetRange } from '../../api/offsets.js';
import { Batch } from '../../batch.js';
import { MicrobatchError } from '../../errors.js';
import { partitionOf } from '../../hash.js';
import { decodeSnapshot, encodeSnapshot, encodeStateEntry, jsonStateCodec } from '../../state/codec.js';
import type { StatefulOperator } from '../../state/operator.js';
import type { BatchGeneration } from '../generation.js';
import type { LateCounts, LateRecord } from './late-record.js';
import type { ResolvedWatermark, ResolvedWindowOptions } from './options.js';
import { advanceWatermark, initialWatermark, isLate, type WatermarkState } from './watermark.js';
import type { EventWindow, RecordPipe, WindowKind, WindowTransaction } from './window-kind.js';

const WATERMARK_KEY = '$watermark';

/** What one attempt of one batch computed; applied by commit() only when the whole batch succeeded. */
interface Prepared<K, A, P> {
  readonly tx: WindowTransaction<K, A, P>;
  readonly watermark: WatermarkState;
  readonly results: EventWindow<K, A>[];
  /** Per input partition, in input order. */
  readonly late: LateRecord<unknown>[][];
  readonly ranges: (readonly OffsetRange[])[];
  readonly counts: LateCounts;
}

/** The name of the source partitions a batch partition reads: what the watermark tracks per partition. */
function partitionName(ranges: readonly OffsetRange[], index: number): string {
  if (ranges.length === 0) return `#${index}`;
  return [...new Set(ranges.map((r) => `${r.source}:${r.partition}`))].sort().join('+');
}

/**
 * Event-time windows with a watermark (docs/semantics.md §9): a named stateful operator whose
 * state is its open windows plus the watermark state, snapshotted together, so a replay of batch t
 * starts from the same windows and the same watermark and produces the same results and late
 * records.
 */
export class EventWindowOperator<S, K, V, A, P> implements StatefulOperator {
  private watermark: WatermarkState = initialWatermark();
  private readonly prepared = new WeakMap<BatchGeneration, Prepared<K, A, P>>();
  /** Counts of the newest committed batch (for monitoring). */
  lastCounts: LateCounts = { late: 0, invalidEventTime: 0, dropped: 0 };

  constructor(
    private readonly parent: (generation: BatchGeneration) => Batch<S> | undefined,
    private readonly extract: (record: S) => number,
    /** The transformations after withWatermark, fused: where the [key, value] pairs go -> a function of one input record. */
    private readonly pairs: (emit: (pair: [K, V]) => void) => RecordPipe<S>,
    private readonly spec: ResolvedWatermark,
    private readonly kind: WindowKind<K, V, A, P>,
    private readonly options: ResolvedWindowOptions,
  ) {}

  get name(): string {
    return this.options.name;
  }

  /** The watermark the next batch uses (null: none yet). */
  get currentWatermark(): number | null {
    return this.watermark.watermark;
  }

  /** Open windows (tumbling/sliding: one per window and key; sessions: one per key). */
  get openWindows(): number {
    return this.kind.size;
  }

  async prepare(generation: BatchGeneration): Promise<void> {
    const batch = this.parent(generation);
    if (!batch) return;
    const watermark = this.watermark.watermark;
    const limit = pLimit(generation.concurrency);
    const indexes = Array.from({ length: batch.numPartitions }, (_, i) => i);
    const scans = await Promise.all(indexes.map((i) => limit(() => this.scan(batch, i, watermark, generation.time))));
    const tx = this.kind.begin();
    tx.apply(scans.map((s) => s.partial));
    const closed = watermark === null ? [] : tx.close(watermark);
    const observed = new Map<string, number | null>();
    const ranges = indexes.map((i) => batch.partitionRanges(i));
    scans.forEach((scan, i) => {
      const name = partitionName(ranges[i]!, i);
      const before = observed.get(name);
      observed.set(name, before === undefined || before === null ? scan.max : scan.max === null ? before : Math.max(before, scan.max));
    });
    const counts = scans.reduce(
      (sum, s) => ({ late: sum.late + s.counts.late, invalidEventTime: sum.invalidEventTime + s.counts.invalidEventTime, dropped: sum.dropped + s.counts.dropped }),
      { late: 0, invalidEventTime: 0, dropped: 0 },
    );
    this.prepared.set(generation, {
      tx,
      watermark: advanceWatermark(this.watermark, observed, this.spec),
      results: this.options.outputMode === 'final' ? closed : tx.changed(),
      late: scans.map((s) => s.late),
      ranges,
      counts,
    });
  }

  commit(generation: BatchGeneration): void {
    const prepared = this.prepared.get(generation);
    if (!prepared) return;
    this.prepared.delete(generation);
    prepared.tx.commit();
    this.watermark = prepared.watermark;
    this.lastCounts = prepared.counts;
    this.report(generation, prepared.counts);
  }

  /** Metrics and the dashboard count late and invalid records like a source's rejected ones, per committed batch. */
  private report(generation: BatchGeneration, counts: LateCounts): void {
    const late = this.options.late === 'drop' ? 'dropped' : 'side-output';
    const invalid = this.options.invalidEventTime === 'drop' ? 'dropped' : 'side-output';
    if (counts.late > 0) generation.reportRejected?.({ source: this.name, reason: 'late', action: late, count: counts.late });
    if (counts.invalidEventTime > 0) generation.reportRejected?.({ source: this.name, reason: 'invalid-event-time', action: invalid, count: counts.invalidEventTime });
  }

  snapshot(batchTime: number): AsyncIterable<Uint8Array> {
    const watermark = this.watermark;
    const kind = this.kind;
    const entries = function* (): Iterable<[unknown, unknown]> {
      yield [WATERMARK_KEY, { ...watermark, windows: kind.spec }];
      yield* kind.entries();
    };
    return encodeSnapshot(this.name, batchTime, entries(), kind.size + 1, jsonStateCodec);
  }

  async restore(data: AsyncIterable<Uint8Array>, batchTime: number, where: string): Promise<void> {
    this.kind.clear();
    this.watermark = initialWatermark();
    await decodeSnapshot(data, jsonStateCodec, { operator: this.name, batchTime, where }, (key, value) => {
      if (key !== WATERMARK_KEY) return this.kind.restoreEntry(key, value);
      const { windows, ...watermark } = value as WatermarkState & { windows: Record<string, unknown> };
      this.assertSameWindows(windows, where);
      this.watermark = watermark;
    });
  }

  /** Open windows of another size, slide or gap would be closed at the wrong times: refuse them. */
  private assertSameWindows(saved: Record<string, unknown>, where: string): void {
    const configured = this.kind.spec;
    if (JSON.stringify(saved) === JSON.stringify(configured)) return;
    throw new MicrobatchError(
      'INVALID_OPTION',
      `Event-time windows "${this.name}": snapshot ${where} holds windows ${JSON.stringify(saved)}, the program configures ${JSON.stringify(configured)}; ` +
        'keep the windows, or list the operator in resetStreams to start it afresh',
      { details: { option: 'windows', operator: this.name, checkpointed: saved, configured } },
    );
  }

  reset(): void {
    this.kind.clear();
    this.watermark = initialWatermark();
  }

  /** The windows this batch emits, hash-partitioned by key. */
  results(generation: BatchGeneration): Batch<EventWindow<K, A>> | undefined {
    const prepared = this.prepared.get(generation);
    if (!prepared) return undefined;
    const n = this.options.numPartitions ?? Math.max(1, prepared.ranges.length);
    const parts: EventWindow<K, A>[][] = Array.from({ length: n }, () => []);
    for (const window of prepared.results) parts[partitionOf(window.key, n)]!.push(window);
    // Handed out as they are: outputs never mutate a batch's records.
    const plans = parts.map((records) => ({ ranges: generation.ranges, compute: async () => records }));
    return new Batch(generation.time, plans, { concurrency: generation.concurrency });
  }

  /** Late and invalid records of this batch, in the input's partitions. */
  late(generation: BatchGeneration): Batch<LateRecord<S>> | undefined {
    const prepared = this.prepared.get(generation);
    if (!prepared) return undefined;
    const plans = prepared.late.map((records, i) => ({ ranges: prepared.ranges[i]!, compute: async () => records as LateRecord<S>[] }));
    return new Batch(generation.time, plans, { concurrency: generation.concurrency });
  }

  /** One partition's pass: event times, lateness, and the on-time records folded into their windows. */
  private async scan(batch: Batch<S>, index: number, watermark: number | null, batchTime: number) {
    const partial = this.kind.newPartial();
    const late: LateRecord<S>[] = [];
    const counts = { late: 0, invalidEventTime: 0, dropped: 0 };
    let max: number | null = null;
    const { late: latePolicy, invalidEventTime: invalidPolicy } = this.options;
    const kind = this.kind;
    // The event time of the record being piped: set before each call, read by `toWindows`.
    let current = 0;
    const toWindows = this.pairs((pair) => kind.add(partial, pair[0], pair[1], current));
    await batch.pull(index, (record) => {
      const eventTime = this.extract(record);
      if (typeof eventTime !== 'number' || !Number.isFinite(eventTime)) {
        const error = new MicrobatchError('INVALID_RECORD', `Event-time windows "${this.name}": the event-time extractor returned ${String(eventTime)}, not a finite number of ms`, {
          details: { operator: this.name, batchTime, partition: index, eventTime: String(eventTime) },
        });
        if (invalidPolicy === 'fail') throw error;
        counts.invalidEventTime++;
        if (invalidPolicy === 'drop') counts.dropped++;
        else late.push({ reason: 'invalid-event-time', record, eventTime: String(eventTime), watermark, batchTime, error });
        return;
      }
      if (max === null || eventTime > max) max = eventTime;
      if (isLate(eventTime, watermark)) {
        counts.late++;
        if (latePolicy === 'drop') counts.dropped++;
        else late.push({ reason: 'late', record, eventTime, watermark: watermark!, batchTime });
        return;
      }
      current = eventTime;
      toWindows.push(record);
    });
    return { partial, late, counts, max: max as number | null };
  }
}

/** Fails the batch on a window value the JSON snapshot cannot hold (STATE_ENCODE_FAILED), not at the next snapshot. */
export function snapshotCheck(operator: string): (key: unknown, value: unknown) => void {
  return (key, value) => {
    if (typeof value === 'number' ? Number.isFinite(value) : typeof value === 'string' || typeof value === 'boolean') return;
    encodeStateEntry(jsonStateCodec, operator, [key, value], key);
  };
}
