import {
  type Batch,
  FencedError,
  type Logger,
  MicrobatchError,
  type OffsetRange,
  type OutputContext,
  type Sink,
  type SinkOpenContext,
  invalidOption,
} from '@microbatch/core';
import { type Database, type DatabaseInput, type SqlExecutor, type SqlTransaction, preparing, toDatabase } from './db.js';
import { sinkError } from './errors.js';
import { type FenceKey, checkEpoch, claimEpoch } from './fence.js';
import { insertMarkers } from './markers.js';
import { isShared, sharedRanges, storeOffsets, upsertOffsets } from './offsets.js';
import { type RetryOptions, withRetry } from './retry.js';
import { type SchemaOptions, type SinkTables, ensureTables, sinkTables } from './schema.js';

/** What `write` gets besides the transaction and the records. */
export interface PostgresWriteContext extends OutputContext {
  /** The partition written, or -1 with `granularity: 'batch'`. */
  readonly partitionId: number;
  readonly numPartitions: number;
  /** The partitions whose records `records` holds: one, or (batch) every partition not yet committed. */
  readonly partitionIds: readonly number[];
  /** The source ranges those partitions were computed from. */
  readonly partitionRanges: readonly OffsetRange[];
}

export interface PostgresSinkOptions<T> extends SchemaOptions {
  /** A pg.Pool, a PGlite instance, or a URI (`postgres://...`, `pglite:<dir>`); a URI's client is closed by `close()`. */
  readonly pool: DatabaseInput;
  /** The output's stable name: it keys the commit markers, so renaming it replays everything. */
  readonly name: string;
  /** Writes one partition's (or batch's) records in the open transaction; throw to roll it back. */
  readonly write: (tx: SqlTransaction, records: T[], context: PostgresWriteContext) => Promise<void>;
  /** `partition` (default): one transaction per partition, concurrently. `batch`: one for the whole batch. */
  readonly granularity?: 'partition' | 'batch';
  /** Store each committed source range's end offset in the same transaction (see readCommittedOffsets). Default false. */
  readonly storeOffsets?: boolean;
  /** Create the bookkeeping tables on first use. Default true; false if a migration (migrationSql) made them. */
  readonly createTables?: boolean;
  /** Retries of a transaction that failed on connection loss, a restart, a serialization failure or a deadlock. */
  readonly retry?: RetryOptions;
  /**
   * Pooled connections `open()` opens in the background (each checked with `SELECT 1`), so the
   * first batch's concurrent partition transactions find them ready. Default 4, the engine's
   * default `maxConcurrentPartitions`; at most the pool's `max`; 0: none. Nothing for PGlite.
   */
  readonly warmConnections?: number;
  /**
   * Run the sink's own statements (the fence check, the markers, the offsets) as named prepared
   * statements: parsed and planned once per connection, not on every transaction, and prepared
   * on the `warmConnections` before the first batch. Default true. Set false behind a pooler
   * that cannot keep them (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`). Nothing for PGlite.
   */
  readonly prepareStatements?: boolean;
  readonly logger?: Logger;
}

export interface PostgresSink<T> extends Sink<T> {
  readonly guarantee: 'transactional';
  /** The quoted names of its bookkeeping tables. */
  readonly tables: SinkTables;
  open(context: SinkOpenContext): Promise<void>;
  retire(context: { readonly appId: string; readonly epoch: number; readonly before: number }): Promise<void>;
  /**
   * The newest batch time with a commit marker of this output and app (a partly committed batch
   * counts: its marker was written with its rows), or undefined when it has none. `retire` never
   * prunes the newest batch's markers, so pruning does not make it forget.
   */
  lastCommittedBatch(context: { readonly appId: string }): Promise<number | undefined>;
  close(): Promise<void>;
}

/**
 * Exactly-once output into PostgreSQL: every (batch time, partition) commits its rows and its
 * marker in one transaction; a replay finds the marker and writes nothing. Batch plans are
 * write-ahead logged, so a replayed (batch time, partition) has the same records and skipping is safe.
 */
export function postgresSink<T>(options: PostgresSinkOptions<T>): PostgresSink<T> {
  if (typeof options.name !== 'string' || options.name.length === 0) throw invalidOption('name', 'expected a non-empty string', options.name);
  if (typeof options.write !== 'function') throw invalidOption('write', 'expected a function (tx, records, context) => Promise<void>', options.write);
  const granularity = options.granularity ?? 'partition';
  if (granularity !== 'partition' && granularity !== 'batch') throw invalidOption('granularity', "expected 'partition' or 'batch'", granularity);
  if (options.pool === undefined || options.pool === null) throw invalidOption('pool', 'expected a pg.Pool, a PGlite instance or a URI');
  const warmConnections = options.warmConnections ?? 4;
  if (!Number.isInteger(warmConnections) || warmConnections < 0) throw invalidOption('warmConnections', 'expected a non-negative integer', options.warmConnections);
  const prepareStatements = options.prepareStatements ?? true;
  if (typeof prepareStatements !== 'boolean') throw invalidOption('prepareStatements', 'expected a boolean', options.prepareStatements);
  const tables = sinkTables(options);
  const name = options.name;
  // The executor of the sink's own statements in a transaction (the user's write gets `tx` itself).
  const own = prepareStatements ? preparing : (tx: SqlExecutor) => tx;
  let warming: Promise<void> | undefined;

  let database: Promise<Database> | undefined;
  let ready: Promise<void> | undefined;
  // The highest epoch this instance has claimed, per app.
  const claimed = new Map<string, number>();
  let closed = false;

  const db = () => (database ??= toDatabase(options.pool, { logger: options.logger }));
  const retrying = <R>(what: string, fn: () => Promise<R>, logger?: Logger, signal?: AbortSignal) =>
    withRetry(fn, { ...options.retry, logger: logger ?? options.logger, signal, what });

  /** The database, with the bookkeeping tables created (unless `createTables: false`). */
  async function open(logger?: Logger): Promise<Database> {
    if (closed) throw new MicrobatchError('STOPPED', `Output "${name}" is closed`);
    const handle = await db();
    if (options.createTables !== false) {
      ready ??= retrying('create tables', () => ensureTables(handle, options), logger).catch((error) => {
        ready = undefined;
        throw error;
      });
      await ready;
    }
    return handle;
  }

  /** Tables exist and this epoch is the output's newest writer (or FencedError). */
  async function prepare(appId: string, epoch: number, logger?: Logger): Promise<Database> {
    const handle = await open(logger);
    if ((claimed.get(appId) ?? -1) < epoch) {
      await retrying('claim epoch', () => handle.transaction((tx) => claimEpoch(tx, tables, { appId, outputName: name }, epoch)), logger);
      claimed.set(appId, Math.max(claimed.get(appId) ?? -1, epoch));
    }
    return handle;
  }

  return {
    name,
    guarantee: 'transactional',
    tables,

    async open(context: SinkOpenContext) {
      const handle = await prepare(context.appId, context.epoch, context.logger);
      // In the background: open() returns once the epoch is claimed, and the engine goes on
      // restoring state and waiting for the first batch time meanwhile. A failure is only logged:
      // the first write connects again, with its retries, and reports what still fails.
      if (warmConnections > 0 && handle.warmUp && !warming) {
        const logger = options.logger ?? context.logger;
        warming = handle.warmUp(warmConnections, prepareStatements ? (tx) => primeStatements(own(tx), tables, { appId: context.appId, outputName: name }, options.storeOffsets === true) : undefined).catch((error: unknown) => {
          if (!closed) logger.warn({ err: error, output: name }, 'opening PostgreSQL connections ahead of the first batch failed; the first write connects again');
        });
      }
    },

    async write(batch: Batch<T>, context: OutputContext) {
      const handle = await prepare(context.appId, context.epoch, context.logger);
      const allRanges = Array.from({ length: batch.numPartitions }, (_, i) => batch.partitionRanges(i));
      const writer = new TransactionWriter(handle, tables, options, context, batch.numPartitions, allRanges, retrying, own);
      if (granularity === 'batch') {
        const parts: T[][] = new Array(batch.numPartitions);
        await batch.foreachPartition((records, ctx) => {
          parts[ctx.partitionId] = records;
        });
        await writer.commitBatch(parts);
        return;
      }
      // Reject only once every partition's transaction settled: a retry of the batch must not race
      // the stray transactions of this attempt (Batch.foreachPartition rejects at the first failure).
      const errors: unknown[] = [];
      await batch.foreachPartition((records, ctx) => writer.commitPartition(ctx.partitionId, records).catch((error: unknown) => void errors.push(error)));
      if (errors.length > 0) throw errors.find((e) => e instanceof FencedError) ?? errors[0];
    },

    async retire(context) {
      const handle = await prepare(context.appId, context.epoch);
      const key = { appId: context.appId, outputName: name };
      await retrying('retire markers', () =>
        handle.transaction(async (tx) => {
          await checkEpoch(tx, tables, key, context.epoch);
          // The newest batch's markers always stay, whatever `before` says (the engine passes the
          // next batch time when nothing is pending): lastCommittedBatch must still find them.
          await tx.query(
            `DELETE FROM ${tables.markers} WHERE app_id = $1 AND output_name = $2 AND batch_time < $3
             AND batch_time < (SELECT max(batch_time) FROM ${tables.markers} WHERE app_id = $1 AND output_name = $2)`,
            [context.appId, name, context.before],
          );
        }),
      );
    },

    async lastCommittedBatch(context) {
      const handle = await open();
      const { rows } = await retrying('read the newest marker', () =>
        handle.query<{ t: string | number | null }>(`SELECT max(batch_time) AS t FROM ${tables.markers} WHERE app_id = $1 AND output_name = $2`, [
          context.appId,
          name,
        ]),
      );
      const newest = rows[0]?.t;
      return newest === null || newest === undefined ? undefined : Number(newest);
    },

    async close() {
      if (closed) return;
      closed = true;
      await warming;
      if (database) await (await database.catch(() => undefined))?.close();
    },
  };
}

type Retrying = <R>(what: string, fn: () => Promise<R>, logger?: Logger, signal?: AbortSignal) => Promise<R>;

/** The transactions of one batch of one output. */
class TransactionWriter<T> {
  private readonly key: FenceKey;
  private readonly shared: Set<string>;

  constructor(
    private readonly db: Database,
    private readonly tables: SinkTables,
    private readonly options: PostgresSinkOptions<T>,
    private readonly context: OutputContext,
    private readonly numPartitions: number,
    private readonly ranges: readonly (readonly OffsetRange[])[],
    private readonly retrying: Retrying,
    private readonly own: (tx: SqlExecutor) => SqlExecutor,
  ) {
    this.key = { appId: context.appId, outputName: options.name };
    this.shared = sharedRanges(ranges);
  }

  /**
   * BEGIN; fence check; marker INSERT ... ON CONFLICT DO NOTHING first (it waits for a concurrent
   * writer of the same marker, then tells whether this is a replay); the user's rows; offsets; COMMIT.
   */
  async commitPartition(partitionId: number, records: T[]): Promise<void> {
    const { context } = this;
    try {
      await this.retrying(
        `batch ${context.batchTime} partition ${partitionId}`,
        () =>
          this.db.transaction(async (tx) => {
            const own = this.own(tx);
            await checkEpoch(own, this.tables, this.key, context.epoch);
            const fresh = await this.insertMarkers(own, [partitionId], this.ranges[partitionId]!.some((r) => isShared(this.shared, r)));
            if (fresh.length === 0) {
              context.logger.debug({ output: this.options.name, batchTime: context.batchTime, partitionId }, 'replayed partition already committed; skipped');
              return;
            }
            const ranges = this.ranges[partitionId]!;
            await this.options.write(tx, records, this.writeContext(partitionId, [partitionId], ranges));
            if (this.options.storeOffsets) {
              await this.storeOffsets(own, ranges.filter((r) => !isShared(this.shared, r)));
              if (this.shared.size > 0) await this.storeSharedIfComplete(own);
            }
          }),
        context.logger,
        context.signal,
      );
    } catch (error) {
      throw sinkError(error, { output: this.options.name, batchTime: context.batchTime, partitionId });
    }
  }

  /** One transaction for the batch: markers of every partition not yet committed, their rows, every offset. */
  async commitBatch(parts: T[][]): Promise<void> {
    const { context } = this;
    const all = parts.map((_, i) => i);
    try {
      await this.retrying(
        `batch ${context.batchTime}`,
        () =>
          this.db.transaction(async (tx) => {
            const own = this.own(tx);
            await checkEpoch(own, this.tables, this.key, context.epoch);
            // Normally all or none are new; a subset means the granularity changed across a replay.
            const fresh = await this.insertMarkers(own, all, false);
            if (fresh.length === 0) return;
            const ranges = fresh.flatMap((i) => this.ranges[i]!);
            await this.options.write(tx, fresh.flatMap((i) => parts[i]!), this.writeContext(-1, fresh, dedupe(ranges)));
            if (this.options.storeOffsets) await this.storeOffsets(own, dedupe(this.ranges.flat()));
          }),
        context.logger,
        context.signal,
      );
    } catch (error) {
      throw sinkError(error, { output: this.options.name, batchTime: context.batchTime });
    }
  }

  /** Inserts the markers; returns the partitions whose marker is new (the others are replays). */
  private insertMarkers(tx: SqlExecutor, partitions: readonly number[], shared: boolean): Promise<number[]> {
    const { context } = this;
    return insertMarkers(tx, this.tables, { ...this.key, batchTime: context.batchTime, numPartitions: this.numPartitions, epoch: context.epoch, shared }, partitions);
  }

  private storeOffsets(tx: SqlExecutor, ranges: readonly OffsetRange[]): Promise<void> {
    return storeOffsets(tx, this.tables, { ...this.key, batchTime: this.context.batchTime }, ranges);
  }

  /**
   * A range shared by several partitions is complete when all of them committed; the last one to
   * commit stores it. The advisory lock serializes this final check, so two partitions committing
   * at once cannot both miss each other's marker (READ COMMITTED sees the other's marker once it
   * holds the lock, since the other released it by committing).
   */
  private async storeSharedIfComplete(tx: SqlExecutor): Promise<void> {
    const { appId, outputName } = this.key;
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [`${appId}/${outputName}`, String(this.context.batchTime)]);
    const { rows } = await tx.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM ${this.tables.markers} WHERE app_id = $1 AND output_name = $2 AND batch_time = $3`,
      [appId, outputName, this.context.batchTime],
    );
    if (Number(rows[0]!.n) < this.numPartitions) return;
    await this.storeOffsets(tx, dedupe(this.ranges.flat().filter((r) => isShared(this.shared, r))));
  }

  private writeContext(partitionId: number, partitionIds: readonly number[], partitionRanges: readonly OffsetRange[]): PostgresWriteContext {
    return { ...this.context, partitionId, numPartitions: this.numPartitions, partitionIds, partitionRanges };
  }
}

/**
 * Runs, in the warm-up's rolled-back transaction, the statements every partition's transaction
 * runs, so each warm connection holds them prepared. They write nothing (no markers, no offsets),
 * and the epoch is the largest there is, so this is never fenced: a prepared statement depends on
 * its text and parameter types only, not on the values.
 */
async function primeStatements(tx: SqlExecutor, tables: SinkTables, key: FenceKey, offsets: boolean): Promise<void> {
  await checkEpoch(tx, tables, key, Number.MAX_SAFE_INTEGER);
  await insertMarkers(tx, tables, { ...key, batchTime: 0, numPartitions: 0, epoch: 0, shared: false }, []);
  if (offsets) await upsertOffsets(tx, tables, { ...key, batchTime: 0 }, []);
}

function dedupe(ranges: readonly OffsetRange[]): OffsetRange[] {
  return [...new Map(ranges.map((r) => [`${r.source}\u0000${r.partition}\u0000${r.from}`, r])).values()];
}
