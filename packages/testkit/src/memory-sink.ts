import { FencedError, type Batch, type OutputContext, type PartitionContext, type Sink } from '@microbatch/core';

/** What a memory sink has committed; share it between sink instances to simulate a restart. */
export interface MemorySinkData<T> {
  /** Committed partitions by marker `batchTime/partitionId`, in commit order. */
  readonly committed: Map<string, { readonly records: readonly T[]; readonly epoch: number }>;
  /** Replays that found their marker and skipped, as a transactional sink must. */
  replaysSkipped: number;
  /** Replays whose records differed from what was committed: each one is a broken exactly-once promise. */
  readonly mismatches: string[];
  /** Highest epoch that has committed; older epochs are fenced. */
  maxEpoch: number;
}

export function createMemorySinkData<T>(): MemorySinkData<T> {
  return { committed: new Map(), replaysSkipped: 0, mismatches: [], maxEpoch: 0 };
}

export interface MemoryTransactionalSink<T> extends Sink<T> {
  readonly data: MemorySinkData<T>;
  /** Every committed record, ordered by batch time then partition. */
  records(): T[];
}

/**
 * The transactional pattern in memory: each (batchTime, partition) commits atomically with its
 * marker; a replay finds the marker and skips, after checking that it would have written exactly
 * the same records (the write-ahead plan guarantees that, and tests hold the engine to it).
 */
export function createMemoryTransactionalSink<T>(
  options: {
    name?: string;
    data?: MemorySinkData<T>;
    /** Called after each partition commits, e.g. to offer a crash point between partitions. */
    afterPartitionCommit?: (context: PartitionContext) => Promise<void>;
  } = {},
): MemoryTransactionalSink<T> {
  const data = options.data ?? createMemorySinkData<T>();
  const name = options.name ?? 'memory';
  return {
    name,
    guarantee: 'transactional',
    data,
    async write(batch: Batch<T>, _context: OutputContext) {
      await batch.foreachPartition(async (records, ctx) => {
        const marker = `${ctx.batchTime}/${ctx.partitionId}`;
        if (ctx.epoch < data.maxEpoch) {
          throw new FencedError(`memory sink ${name}: epoch ${ctx.epoch} is older than ${data.maxEpoch}`, {
            epoch: ctx.epoch,
            currentEpoch: data.maxEpoch,
            details: { output: name },
          });
        }
        const previous = data.committed.get(marker);
        if (previous) {
          data.replaysSkipped++;
          if (JSON.stringify(previous.records) !== JSON.stringify(records)) {
            data.mismatches.push(`${marker}: replay computed ${records.length} records, committed ${previous.records.length}`);
          }
          return;
        }
        data.maxEpoch = Math.max(data.maxEpoch, ctx.epoch);
        data.committed.set(marker, { records: [...records], epoch: ctx.epoch });
        await options.afterPartitionCommit?.(ctx);
      });
    },
    async lastCommittedBatch() {
      // Markers are written with the records they commit, so they are the sink's own truth.
      const times = [...data.committed.keys()].map((marker) => Number(marker.split('/')[0]));
      return times.length === 0 ? undefined : Math.max(...times);
    },
    records() {
      return [...data.committed.entries()]
        .sort(([a], [b]) => compareMarkers(a, b))
        .flatMap(([, value]) => value.records);
    },
  };
}

function compareMarkers(a: string, b: string): number {
  const [ta, pa] = a.split('/').map(Number) as [number, number];
  const [tb, pb] = b.split('/').map(Number) as [number, number];
  return ta - tb || pa - pb;
}
