import type { Logger } from '../api/logger.js';
import type { OffsetRange, PartitionOffsets } from '../api/offsets.js';
import type { Source } from '../api/source.js';
import { MicrobatchError, isMicrobatchError } from '../errors.js';
import { partitionCaps } from './rate.js';

export interface SourcePlan {
  readonly ranges: OffsetRange[];
  /** Offsets the next batch starts from. */
  readonly next: PartitionOffsets;
  /** Records still waiting after this batch, per partition (latest offset minus the batch's end). */
  readonly lag: Record<string, number>;
}

const partitionOrder = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Decides one source's ranges for a new batch: from the cursor to the latest offset, capped by
 * the per-partition limit and the backpressure rate. Partitions the cursor does not know get
 * their start offsets from the source.
 */
export async function planSource(
  source: Source<unknown>,
  cursor: PartitionOffsets | undefined,
  limits: { staticCap: number | undefined; batchCap: number; rate: number | undefined; batchIntervalMs: number },
  logger: Logger,
  /** The partitions this task owns; all of them when the application is a single task. */
  owns: (partition: string) => boolean = () => true,
): Promise<SourcePlan> {
  const listed = validOffsets(source.name, 'latestOffsets', await call(source, () => source.latestOffsets()));
  const latest: PartitionOffsets = Object.fromEntries(Object.entries(listed).filter(([partition]) => owns(partition)));
  const known: PartitionOffsets = { ...cursor };
  const unknown = Object.keys(latest).filter((p) => known[p] === undefined);
  if (unknown.length > 0) {
    const reason = cursor === undefined ? 'initial' : 'discovered';
    const starts = validOffsets(source.name, 'startOffsets', await call(source, () => source.startOffsets(unknown, reason)));
    for (const partition of unknown) {
      const start = starts[partition];
      if (start === undefined) {
        throw new MicrobatchError('SOURCE_FAILED', `Source "${source.name}" gave no start offset for partition ${partition}`, {
          details: { source: source.name, partition },
        });
      }
      known[partition] = start;
      if (reason === 'discovered') logger.info({ source: source.name, partition, start }, 'new partition discovered');
    }
  }
  const partitions = Object.keys(latest).sort(partitionOrder);
  const lags: Record<string, number> = {};
  for (const partition of partitions) {
    const from = known[partition]!;
    const end = latest[partition]!;
    if (end < from) {
      // The partition is behind our cursor (recreated or truncated topic): wait rather than re-read or skip.
      logger.warn({ source: source.name, partition, cursor: from, latest: end }, 'latest offset is behind the checkpointed offset; waiting');
    }
    lags[partition] = Math.max(0, end - from);
  }
  const rateBudget = limits.rate === undefined ? Number.POSITIVE_INFINITY : (limits.rate * limits.batchIntervalMs) / 1000;
  const caps = partitionCaps(lags, limits.staticCap, Math.min(rateBudget, limits.batchCap));
  const ranges: OffsetRange[] = [];
  const lag: Record<string, number> = {};
  for (const partition of partitions) {
    const from = known[partition]!;
    const until = from + (caps[partition] ?? 0);
    ranges.push({ source: source.name, partition, from, until });
    known[partition] = until;
    lag[partition] = lags[partition]! - (until - from);
  }
  return { ranges, next: known, lag };
}

async function call<R>(source: Source<unknown>, fn: () => Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (error) {
    if (isMicrobatchError(error)) throw error;
    throw new MicrobatchError('SOURCE_FAILED', `Source "${source.name}" failed while planning a batch`, { cause: error });
  }
}

function validOffsets(name: string, method: string, offsets: unknown): PartitionOffsets {
  if (typeof offsets !== 'object' || offsets === null) {
    throw new MicrobatchError('SOURCE_FAILED', `Source "${name}" ${method}() returned no offsets object`);
  }
  for (const [partition, offset] of Object.entries(offsets)) {
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
      throw new MicrobatchError('SOURCE_FAILED', `Source "${name}" ${method}() returned an invalid offset for ${partition}`, {
        details: { partition, offset },
      });
    }
  }
  return offsets as PartitionOffsets;
}
