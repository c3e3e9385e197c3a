import pLimit from 'p-limit';
import type { Logger } from '../api/logger.js';
import type { OffsetRange } from '../api/offsets.js';
import type { ReadContext, Source } from '../api/source.js';

const rangeKey = (range: OffsetRange) => `${range.source}\u0000${range.partition}\u0000${range.from}\u0000${range.until}`;

/**
 * Reads the next batch's input while the current batch's outputs run, so fetching from the
 * source overlaps writing to the sinks. It only reads ranges that are certain already (see
 * `predictNextRanges`); the planner still decides and logs every plan, and a read is used only
 * for a logged range equal to the one read. Holds at most one batch of input ahead.
 */
export class ReadAhead {
  private reads = new Map<string, Promise<unknown[] | undefined>>();
  private controller = new AbortController();

  constructor(
    private readonly sources: ReadonlyMap<string, Source<unknown>>,
    private readonly concurrency: number,
    private readonly logger: Logger,
  ) {}

  start(ranges: readonly OffsetRange[], context: Omit<ReadContext, 'signal'>): void {
    const limit = pLimit(this.concurrency);
    const { signal } = this.controller;
    for (const range of ranges) {
      const source = this.sources.get(range.source);
      if (!source || range.until <= range.from || this.reads.has(rangeKey(range))) continue;
      const read = limit(() => source.read(range, { ...context, signal })).then(
        (records) => (Array.isArray(records) ? records : undefined),
        (error: unknown) => {
          // Not lost: the batch reads the range itself and reports what fails there.
          if (!signal.aborted) this.logger.warn({ err: error, range }, 'reading ahead failed; the batch will read the range itself');
          return undefined;
        },
      );
      this.reads.set(rangeKey(range), read);
    }
  }

  /** The records read ahead for exactly this range (handed out once), or undefined. */
  take(range: OffsetRange): Promise<unknown[] | undefined> | undefined {
    const key = rangeKey(range);
    const read = this.reads.get(key);
    this.reads.delete(key);
    return read;
  }

  /** Drops reads of ranges the logged plan did not get, so their records are not held. */
  keepOnly(ranges: readonly OffsetRange[]): void {
    const wanted = new Set(ranges.map(rangeKey));
    for (const key of this.reads.keys()) if (!wanted.has(key)) this.reads.delete(key);
  }

  /** Abandons every read in flight (the context is stopping). */
  clear(): void {
    this.controller.abort();
    this.controller = new AbortController();
    this.reads.clear();
  }
}

/**
 * The ranges the next plan will certainly get: a partition whose backlog after this batch is at
 * least its static cap gets exactly [until, until + cap) next, since the cap is the only limit
 * (`partitionCaps` without a backpressure rate). Other partitions are left to the planner.
 */
export function predictNextRanges(
  ranges: readonly OffsetRange[],
  lag: Readonly<Record<string, Readonly<Record<string, number>>>>,
  capOf: (source: string) => number | undefined,
): OffsetRange[] {
  const next: OffsetRange[] = [];
  for (const range of ranges) {
    const cap = capOf(range.source);
    const backlog = lag[range.source]?.[range.partition] ?? 0;
    if (cap === undefined || backlog < cap || range.until - range.from !== cap) continue;
    next.push({ source: range.source, partition: range.partition, from: range.until, until: range.until + cap });
  }
  return next;
}
