import { MicrobatchError, type OffsetRange, type PartitionOffsets, type Source } from '@microbatch/core';
import { type DatabaseInput, type SqlExecutor, toDatabase } from './db.js';
import { resetFencing } from './fence.js';
import { type SchemaOptions, type SinkTables, sinkTables } from './schema.js';

/** Next offset per source partition, per source name: what a source resumes from. */
export type CommittedOffsets = Record<string, PartitionOffsets>;

const rangeKey = (range: OffsetRange) => `${range.source}\u0000${range.partition}\u0000${range.from}`;

/**
 * Which ranges of a batch feed more than one of its partitions (after a shuffle every range
 * does). Such a range is only fully written once all the partitions that read it committed.
 */
export function sharedRanges(partitionRanges: readonly (readonly OffsetRange[])[]): Set<string> {
  const count = new Map<string, number>();
  for (const ranges of partitionRanges) {
    for (const range of new Map(ranges.map((r) => [rangeKey(r), r])).values()) count.set(rangeKey(range), (count.get(rangeKey(range)) ?? 0) + 1);
  }
  return new Set([...count].filter(([, n]) => n > 1).map(([key]) => key));
}

export function isShared(shared: ReadonlySet<string>, range: OffsetRange): boolean {
  return shared.has(rangeKey(range));
}

/**
 * Records `until` as the next offset of each range's source partition, in the caller's
 * transaction. Sorted, so concurrent transactions lock rows in one order and cannot deadlock.
 */
export async function storeOffsets(
  tx: SqlExecutor,
  tables: SinkTables,
  key: { appId: string; outputName: string; batchTime: number },
  ranges: readonly OffsetRange[],
): Promise<void> {
  if (ranges.length === 0) return;
  const sorted = [...ranges].sort((a, b) => (a.source + '\u0000' + a.partition < b.source + '\u0000' + b.partition ? -1 : 1));
  await upsertOffsets(tx, tables, key, sorted);
}

/** The statement of storeOffsets, also with no ranges at all (the sink's warm-up prepares it so). */
export async function upsertOffsets(
  tx: SqlExecutor,
  tables: SinkTables,
  key: { appId: string; outputName: string; batchTime: number },
  sorted: readonly OffsetRange[],
): Promise<void> {
  await tx.query(
    `INSERT INTO ${tables.offsets} (app_id, output_name, source, source_partition, next_offset, batch_time)
     SELECT $1, $2, r.source, r.part, r.next_offset, $3 FROM unnest($4::text[], $5::text[], $6::bigint[]) AS r(source, part, next_offset)
     ON CONFLICT (app_id, output_name, source, source_partition) DO UPDATE
       SET next_offset = EXCLUDED.next_offset, batch_time = EXCLUDED.batch_time
       WHERE ${tables.offsets}.batch_time <= EXCLUDED.batch_time`,
    [key.appId, key.outputName, key.batchTime, sorted.map((r) => r.source), sorted.map((r) => r.partition), sorted.map((r) => r.until)],
  );
}

export interface CommittedOffsetsOptions extends SchemaOptions {
  readonly appId: string;
  /** The `name` of the postgresSink that stored them (`storeOffsets: true`). */
  readonly outputName: string;
}

/**
 * The offsets a source resumes from when the database is the only record of progress
 * (Spark's "your own data store"): per source, the next offset of every partition whose data
 * this output committed. Throws SINK_FAILED when a batch whose partitions share source ranges
 * (a shuffle, with `granularity: 'partition'`) committed only partly: part of those ranges' data
 * is written and no offset can say which part, so resuming from the database alone would write
 * it twice; recover from the checkpoint instead, or use `granularity: 'batch'` for such outputs.
 */
export async function readCommittedOffsets(pool: DatabaseInput, options: CommittedOffsetsOptions): Promise<CommittedOffsets> {
  const db = await toDatabase(pool);
  try {
    return await readOffsets(db, sinkTables(options), options);
  } finally {
    await db.close();
  }
}

async function readOffsets(db: SqlExecutor, tables: SinkTables, options: CommittedOffsetsOptions): Promise<CommittedOffsets> {
  const partial = await db.query<{ batch_time: string | number }>(
    `SELECT batch_time FROM ${tables.markers} WHERE app_id = $1 AND output_name = $2
     GROUP BY batch_time HAVING bool_or(shared_ranges) AND count(*) < max(num_partitions) ORDER BY batch_time`,
    [options.appId, options.outputName],
  );
  if (partial.rows.length > 0) {
    const batchTime = Number(partial.rows[0]!.batch_time);
    throw new MicrobatchError(
      'SINK_FAILED',
      `Output "${options.outputName}": batch ${batchTime} committed only some of its partitions, which share source ranges; the database alone cannot tell which records were written. Recover from the checkpoint, or use granularity 'batch' for this output`,
      { details: { output: options.outputName, appId: options.appId, batchTime, reason: 'partial-shared-batch' } },
    );
  }
  const { rows } = await db.query<{ source: string; source_partition: string; next_offset: string | number }>(
    `SELECT source, source_partition, next_offset FROM ${tables.offsets} WHERE app_id = $1 AND output_name = $2`,
    [options.appId, options.outputName],
  );
  const result: CommittedOffsets = {};
  for (const row of rows) (result[row.source] ??= {})[row.source_partition] = Number(row.next_offset);
  return result;
}

/**
 * A source that starts where the database says this output stopped: partitions with committed
 * offsets resume there, the others start as the source itself would. The engine only asks a
 * source for start offsets the checkpoint does not hold, so with a checkpoint the checkpoint
 * wins; without one (lost, or never kept) the database alone recovers.
 */
export function withCommittedOffsets<T>(source: Source<T>, pool: DatabaseInput, options: CommittedOffsetsOptions): Source<T> {
  let committed: Promise<PartitionOffsets> | undefined;
  const load = () => (committed ??= readCommittedOffsets(pool, options).then((all) => all[source.name] ?? {}));
  // Plain delegation rather than a prototype trick: class sources with #private fields keep working.
  return {
    name: source.name,
    // Tells the engine a start without a checkpoint resumes after this output's records (exact).
    resumesFromOutput: options.outputName,
    ...(source.maxRecordsPerPartition === undefined ? {} : { maxRecordsPerPartition: source.maxRecordsPerPartition }),
    ...(source.partitionNumber ? { partitionNumber: (partition: string) => source.partitionNumber!(partition) } : {}),
    ...(source.open ? { open: (context) => source.open!(context) } : {}),
    latestOffsets: () => source.latestOffsets(),
    async startOffsets(partitions, reason) {
      const known = await load();
      const unknown = partitions.filter((p) => known[p] === undefined);
      const fallback = unknown.length > 0 ? await source.startOffsets(unknown, reason) : {};
      return Object.fromEntries(partitions.map((p) => [p, known[p] ?? fallback[p]!]));
    },
    read: (range, context) => source.read(range, context),
    ...(source.commit ? { commit: (ranges) => source.commit!(ranges) } : {}),
    ...(source.close ? { close: () => source.close!() } : {}),
  } satisfies Source<T>;
}

/** See `resetFencing` in fence.ts: for a restart from the database alone, once old processes are dead. */
export async function resetEpochs(pool: DatabaseInput, options: SchemaOptions & { appId: string; outputName?: string }): Promise<void> {
  const db = await toDatabase(pool);
  try {
    await resetFencing(db, sinkTables(options), options);
  } finally {
    await db.close();
  }
}
