import { FencedError, type Batch, type OutputContext, type PartitionContext, type Sink } from '@microbatch/core';

/**
 * What a memory sink has committed; share it between sink instances to simulate a restart, and
 * between the tasks of a group (each task is an app id of its own: `<appId>.task-N`).
 */
export interface MemorySinkData<T> {
  /** Committed partitions by marker `appId/batchTime/partitionId` (see `parseMarker`), in commit order. */
  readonly committed: Map<string, { readonly records: readonly T[]; readonly epoch: number }>;
  /** Replays that found their marker and skipped, as a transactional sink must. */
  replaysSkipped: number;
  /** Replays whose records differed from what was committed: each one is a broken exactly-once promise. */
  readonly mismatches: string[];
  /** Per app id: the highest epoch that has committed; older epochs of that app are fenced. */
  readonly epochs: Map<string, number>;
}

export function createMemorySinkData<T>(): MemorySinkData<T> {
  return { committed: new Map(), replaysSkipped: 0, mismatches: [], epochs: new Map() };
}

/** A memory sink's marker: keyed by app id, so two tasks' equal batch times and partitions never meet. */
export function markerOf(appId: string, batchTime: number, partitionId: number): string {
  return `${appId}/${batchTime}/${partitionId}`;
}

export function parseMarker(marker: string): { appId: string; batchTime: number; partitionId: number } {
  const [appId = '', batchTime, partitionId] = marker.split('/');
  return { appId, batchTime: Number(batchTime), partitionId: Number(partitionId) };
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
        const marker = markerOf(ctx.appId, ctx.batchTime, ctx.partitionId);
        const current = data.epochs.get(ctx.appId) ?? 0;
        if (ctx.epoch < current) {
          throw new FencedError(`memory sink ${name}: epoch ${ctx.epoch} of app ${ctx.appId} is older than ${current}`, {
            epoch: ctx.epoch,
            currentEpoch: current,
            details: { output: name, appId: ctx.appId },
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
        data.epochs.set(ctx.appId, Math.max(current, ctx.epoch));
        data.committed.set(marker, { records: [...records], epoch: ctx.epoch });
        await options.afterPartitionCommit?.(ctx);
      });
    },
    async lastCommittedBatch({ appId }) {
      // Markers are written with the records they commit, so they are the sink's own truth.
      const times = [...data.committed.keys()].map(parseMarker).filter((m) => m.appId === appId).map((m) => m.batchTime);
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
  const [ma, mb] = [parseMarker(a), parseMarker(b)];
  return ma.batchTime - mb.batchTime || ma.partitionId - mb.partitionId || (ma.appId < mb.appId ? -1 : ma.appId > mb.appId ? 1 : 0);
}
