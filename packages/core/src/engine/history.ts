import type { Logger } from '../api/logger.js';
import type { OffsetRange } from '../api/offsets.js';
import type { BatchGeneration } from '../dstream/generation.js';

/**
 * Logged plans of recent batches and their generations, so windows can read past batches. A
 * generation keeps its computed partitions, like Spark remembering recent RDDs; after a restart
 * the past batches are recomputed from their logged plans, with identical contents.
 */
export class BatchHistory {
  private readonly plans = new Map<number, readonly OffsetRange[]>();
  private readonly generations = new Map<number, BatchGeneration>();

  constructor(
    private readonly base: Pick<BatchGeneration, 'appId' | 'concurrency' | 'logger' | 'signal' | 'prefetched' | 'reportRejected'>,
    /** How far back windows look; 0 when the program has no window. */
    readonly rememberMs: number,
  ) {}

  /** The generation of one attempt of a batch; becomes the remembered one for its time. */
  generation(time: number, ranges: readonly OffsetRange[], attempt: number): BatchGeneration {
    this.plans.set(time, ranges);
    const generation = this.create(time, ranges, attempt);
    this.generations.set(time, generation);
    return generation;
  }

  /** Makes a logged batch available to windows without computing it. */
  remember(time: number, ranges: readonly OffsetRange[]): void {
    this.plans.set(time, ranges);
  }

  /** Drops what no window can need once `time` is the newest batch. */
  forgetBefore(time: number): void {
    const floor = time - this.rememberMs;
    for (const t of this.plans.keys()) if (t <= floor) this.plans.delete(t);
    for (const t of this.generations.keys()) if (t <= floor || (this.rememberMs === 0 && t < time)) this.generations.delete(t);
  }

  private at(time: number): BatchGeneration | undefined {
    const existing = this.generations.get(time);
    if (existing) return existing;
    const ranges = this.plans.get(time);
    if (!ranges) return undefined;
    const generation = this.create(time, ranges, 1);
    this.generations.set(time, generation);
    return generation;
  }

  private create(time: number, ranges: readonly OffsetRange[], attempt: number): BatchGeneration {
    return {
      ...this.base,
      time,
      ranges,
      attempt,
      cache: new Map(),
      at: (past) => this.at(past),
    };
  }
}
