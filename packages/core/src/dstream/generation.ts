import type { Logger } from '../api/logger.js';
import type { OffsetRange } from '../api/offsets.js';
import type { RejectedRecords } from '../api/source.js';
import type { Batch } from '../batch.js';

/**
 * Everything needed to compute the streams of one attempt of one batch. Each attempt gets a
 * fresh generation, so a retry recomputes from the logged ranges instead of reusing failed work.
 */
export interface BatchGeneration {
  readonly appId: string;
  readonly time: number;
  /** The batch's logged plan: every range of every source. */
  readonly ranges: readonly OffsetRange[];
  readonly attempt: number;
  readonly signal: AbortSignal;
  readonly concurrency: number;
  readonly logger: Logger;
  /** Records read ahead for exactly this range while the previous batch ran (see ReadAhead), or undefined. */
  readonly prefetched?: (range: OffsetRange) => Promise<unknown[] | undefined> | undefined;
  /** Counts records an operator set aside under an explicit policy (late event-time records), for metrics. */
  readonly reportRejected?: (event: RejectedRecords) => void;
  /** Batches already built for this generation, per stream, so shared upstreams are computed once. */
  readonly cache: Map<object, Batch<unknown> | undefined>;
  /**
   * The generation of an earlier batch time, built from its logged plan (windows read past batches
   * through it); undefined for a time before the application's first batch or beyond what is kept.
   */
  at(time: number): BatchGeneration | undefined;
}
