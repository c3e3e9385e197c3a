import type { BatchInfo, Logger, RejectedRecords, Source, SourceOpenContext } from '@microbatch/core';
import type { Classified } from './events.js';

type Rejected = Extract<Classified, { kind: 'rejected' }>;

/** Rejected records a debug line shows per batch, and how much of each one's text. */
const SAMPLES = 3;
const SAMPLE_CHARS = 200;
/** What happens to a rejected record: it is kept, with its reason, in events_rejected. */
const ACTION = 'dead-lettered';

interface Tally {
  attempt: number;
  readonly byReason: Map<string, number>;
  readonly samples: Rejected[];
}

/** The rejections of one completed batch. */
export interface BatchRejectionCounts {
  readonly total: number;
  readonly byReason: Readonly<Record<string, number>>;
}

/**
 * Malformed input, counted per batch rather than logged per record (a line per record was
 * ~4,000 lines per million events): the wrapped source classifies what it reads and tallies the
 * rejections under the batch time it read them for; when that batch completes, `completed` logs
 * one warning with the count per reason, a few of the records at debug level, and tells the
 * context (one `onRecordsRejected` event per reason), which feeds `microbatch_records_rejected_total`
 * and the dashboard. Counting at completion, from the attempt that succeeded, counts a retried
 * batch once.
 */
export class BatchRejections {
  private readonly batches = new Map<number, Tally>();
  private report: ((event: RejectedRecords) => void) | undefined;
  private sourceName = '';

  constructor(private readonly logger: Logger) {}

  /** What `classifiedSource` tells this tally. */
  readonly hooks: ClassifiedSourceHooks = {
    opened: (name, context) => {
      this.sourceName = name;
      this.report = context.reportRejected;
    },
    read: (batchTime, attempt, records) => this.add(batchTime, attempt, records),
  };

  private add(batchTime: number, attempt: number, records: readonly Classified[]): void {
    let tally = this.batches.get(batchTime);
    // A new attempt reads every partition again: count only what the latest attempt read.
    if (!tally || tally.attempt < attempt) this.batches.set(batchTime, (tally = { attempt, byReason: new Map(), samples: [] }));
    for (const r of records) {
      if (r.kind !== 'rejected') continue;
      tally.byReason.set(r.reason, (tally.byReason.get(r.reason) ?? 0) + 1);
      if (tally.samples.length < SAMPLES) tally.samples.push(r);
    }
  }

  /** Call on `onBatchCompleted`: reports and logs the batch's rejections once; undefined when it had none. */
  completed(info: BatchInfo): BatchRejectionCounts | undefined {
    const tally = this.batches.get(info.batchTime);
    // Older entries belong to batches that never complete here (state recomputed on start).
    for (const time of this.batches.keys()) if (time <= info.batchTime) this.batches.delete(time);
    if (!tally || tally.byReason.size === 0) return undefined;
    const byReason = Object.fromEntries([...tally.byReason].sort(([a], [b]) => (a < b ? -1 : 1)));
    const total = Object.values(byReason).reduce((a, b) => a + b, 0);
    for (const [reason, count] of Object.entries(byReason)) this.report?.({ source: this.sourceName, reason, action: ACTION, count });
    this.logger.warn({ batchTime: info.batchTime, rejected: total, byReason }, `${total} malformed record(s) in this batch, kept in events_rejected`);
    const samples = tally.samples.map((r) => ({ partition: r.partition, offset: r.offset, reason: r.reason, raw: r.raw.slice(0, SAMPLE_CHARS) }));
    this.logger.debug({ batchTime: info.batchTime, samples }, `the first ${samples.length} malformed record(s) of this batch`);
    return { total, byReason };
  }
}

export interface ClassifiedSourceHooks {
  opened(name: string, context: SourceOpenContext): void;
  read(batchTime: number, attempt: number, records: readonly Classified[]): void;
}

/**
 * `inner` with every record classified as it is read, under the same name and offsets (so
 * checkpoints stay valid). Classifying in the source, not in a `map`, lets the rejections be
 * counted under the batch time and attempt they were read for.
 */
export function classifiedSource<R>(inner: Source<R>, classify: (record: R) => Classified, hooks?: ClassifiedSourceHooks): Source<Classified> {
  return {
    name: inner.name,
    ...(inner.maxRecordsPerPartition === undefined ? {} : { maxRecordsPerPartition: inner.maxRecordsPerPartition }),
    open: async (context) => {
      hooks?.opened(inner.name, context);
      await inner.open?.(context);
    },
    latestOffsets: () => inner.latestOffsets(),
    startOffsets: (partitions, reason) => inner.startOffsets(partitions, reason),
    read: async (range, context) => {
      const records = (await inner.read(range, context)).map(classify);
      hooks?.read(context.batchTime, context.attempt, records);
      return records;
    },
    ...(inner.commit ? { commit: (ranges: Parameters<NonNullable<Source<R>['commit']>>[0]) => inner.commit!(ranges) } : {}),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
}
