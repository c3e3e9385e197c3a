import type { SqlExecutor } from './db.js';
import type { FenceKey } from './fence.js';
import type { SinkTables } from './schema.js';

/** What a commit marker records besides its partition. */
export interface MarkerRow extends FenceKey {
  readonly batchTime: number;
  readonly numPartitions: number;
  readonly epoch: number;
  /** Whether the partition read source ranges other partitions read too (see sharedRanges). */
  readonly shared: boolean;
}

/**
 * Inserts the markers of `partitions`; returns those whose marker is new, sorted (the others are
 * replays). ON CONFLICT DO NOTHING waits for a concurrent writer of the same marker, then tells.
 */
export async function insertMarkers(tx: SqlExecutor, tables: SinkTables, row: MarkerRow, partitions: readonly number[]): Promise<number[]> {
  const { rows } = await tx.query<{ partition_id: number }>(
    `INSERT INTO ${tables.markers} (app_id, output_name, batch_time, partition_id, num_partitions, epoch, shared_ranges)
     SELECT $1, $2, $3, p, $4, $5, $6 FROM unnest($7::int[]) AS p
     ON CONFLICT (app_id, output_name, batch_time, partition_id) DO NOTHING
     RETURNING partition_id`,
    [row.appId, row.outputName, row.batchTime, row.numPartitions, row.epoch, row.shared, partitions],
  );
  return rows.map((r) => Number(r.partition_id)).sort((a, b) => a - b);
}
