import { type Logger, invalidOption } from '@microbatch/core';
import {
  type Database,
  type DatabaseInput,
  type RetryOptions,
  type SchemaOptions,
  checkEpoch,
  claimEpoch,
  ensureTables,
  quoteIdent,
  quoteTable,
  sinkTables,
  toDatabase,
  toPgText,
  withRetry,
} from '@microbatch/sink-postgres';
import type { UpsertTarget } from './target.js';

/** `schema` and `tablePrefix` name the fences table (`<prefix>fences`, shared with sink-postgres). */
export interface PostgresUpsertOptions<T> extends SchemaOptions {
  /** A pg.Pool, a PGlite instance, or a URI (`postgres://...`, `pglite:<dir>`); a URI's client is closed by `close()`. */
  readonly pool: DatabaseInput;
  /** Target table, optionally schema-qualified. */
  readonly table: string;
  /** The conflict columns: a primary key or unique constraint must cover exactly them. */
  readonly keys: readonly string[];
  /** Every column written, keys included. */
  readonly columns: readonly string[];
  /** Record -> row object keyed by column. Default: the record itself. */
  readonly row?: (record: T) => Readonly<Record<string, unknown>>;
  /** Columns overwritten on conflict. Default: every non-key column (none: DO NOTHING). */
  readonly update?: readonly string[];
  /**
   * A column that only grows (a batch time, a version): a conflicting row is updated only when
   * the incoming value is >= the stored one, so replaying an old batch never undoes a newer one.
   * Default: none.
   */
  readonly onlyIfNotOlder?: string;
  /** Rows per statement. Default 5000; the bind-parameter count is one per column whatever it is. */
  readonly chunkSize?: number;
  /** Statements in flight at once (chunks hold distinct keys). Default 2. */
  readonly concurrency?: number;
  /**
   * Refuse writes of older epochs (zombies) with FencedError: each chunk is a transaction that
   * checks the output's row in the fences table of sink-postgres first, and a newer epoch's
   * claim waits for chunks in flight. Default true. `false`: one plain statement per chunk, and
   * a stalled older process can overwrite newer values.
   */
  readonly fence?: boolean;
  /** Create sink-postgres's bookkeeping tables (for the fences table) on first use. Default true. */
  readonly createTables?: boolean;
  readonly retry?: RetryOptions;
  readonly logger?: Logger;
}

interface Prepared {
  readonly db: Database;
  readonly sql: string;
  readonly json: readonly boolean[];
}

/**
 * Postgres target: one `INSERT ... SELECT FROM unnest($1::text[], ...) ON CONFLICT (keys) DO
 * UPDATE` per chunk. Each column travels as one text array (a single bind parameter), cast to the
 * column's type read from the catalog, so any row count fits and no statement is sent per row.
 */
export function postgresUpsert<T>(options: PostgresUpsertOptions<T>): UpsertTarget<T> {
  const { keys, columns } = options;
  if (!Array.isArray(keys) || keys.length === 0) throw invalidOption('keys', 'expected at least one key column', keys);
  if (!Array.isArray(columns) || columns.length === 0) throw invalidOption('columns', 'expected the columns to write', columns);
  const missing = keys.filter((k) => !columns.includes(k));
  if (missing.length > 0) throw invalidOption('columns', `must include the key columns (${missing.join(', ')})`, columns);
  const update = options.update ?? columns.filter((c) => !keys.includes(c));
  const chunkSize = options.chunkSize ?? 5000;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw invalidOption('chunkSize', 'expected a positive integer', chunkSize);
  const concurrency = options.concurrency ?? 2;
  const table = quoteTable(options.table);
  const toRow = options.row ?? ((record: T) => record as unknown as Record<string, unknown>);
  const keyIndexes = keys.map((k) => columns.indexOf(k));
  const fence = options.fence ?? true;
  const tables = sinkTables(options);

  let prepared: Promise<Prepared> | undefined;
  let database: Promise<Database> | undefined;
  let fenceTable: Promise<void> | undefined;

  /** The database, with the fences table created when fencing (unless `createTables: false`). */
  async function open(): Promise<Database> {
    const db = await (database ??= toDatabase(options.pool, { logger: options.logger }));
    if (fence && options.createTables !== false) {
      await (fenceTable ??= withRetry(() => ensureTables(db, options), { ...options.retry, logger: options.logger, what: 'create tables' }).catch((error) => {
        fenceTable = undefined;
        throw error;
      }));
    }
    return db;
  }

  async function prepare(): Promise<Prepared> {
    const db = await open();
    const { rows } = await db.query<{ name: string; type: string }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type FROM pg_attribute
       WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
      [table],
    );
    const types = new Map(rows.map((r) => [r.name, r.type]));
    const unknown = columns.filter((c) => !types.has(c));
    if (unknown.length > 0) throw invalidOption('columns', `not columns of ${options.table}: ${unknown.join(', ')}`, columns);
    const alias = (i: number) => `c${i}`;
    const set = update.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`);
    const guard = options.onlyIfNotOlder ? ` WHERE ${table}.${quoteIdent(options.onlyIfNotOlder)} <= EXCLUDED.${quoteIdent(options.onlyIfNotOlder)}` : '';
    const sql =
      `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) ` +
      `SELECT ${columns.map((c, i) => `u.${alias(i)}::${types.get(c)}`).join(', ')} ` +
      `FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) AS u(${columns.map((_, i) => alias(i)).join(', ')}) ` +
      `ON CONFLICT (${keys.map(quoteIdent).join(', ')}) ` +
      (set.length > 0 ? `DO UPDATE SET ${set.join(', ')}${guard}` : 'DO NOTHING');
    return { db, sql, json: columns.map((c) => /^jsonb?$/.test(types.get(c)!)) };
  }

  const valuesOf = (record: T): unknown[] => {
    const row = toRow(record);
    return columns.map((c) => row[c]);
  };

  return {
    kind: `postgres ${options.table}`,
    keyOf(record) {
      const values = valuesOf(record);
      return JSON.stringify(keyIndexes.map((i) => toPgText(values[i])));
    },
    ...(fence
      ? {
          async claim(context) {
            const db = await open();
            const key = { appId: context.appId, outputName: context.outputName };
            await withRetry(() => db.transaction((tx) => claimEpoch(tx, tables, key, context.epoch)), {
              ...options.retry,
              logger: context.logger ?? options.logger,
              what: `claim ${options.table} for epoch ${context.epoch}`,
            });
          },
        }
      : {}),
    async upsert(records, context) {
      const p = await (prepared ??= prepare().catch((error) => {
        prepared = undefined;
        throw error;
      }));
      const key = { appId: context.appId, outputName: context.outputName };
      // Fenced, the check and the chunk are one transaction: the FOR SHARE lock of the check makes
      // a newer epoch's claim wait for it, and once the claim committed the check refuses.
      const run = async (params: unknown[][]): Promise<void> => {
        if (!fence) return void (await p.db.query(p.sql, params));
        await p.db.transaction(async (tx) => {
          await checkEpoch(tx, tables, key, context.epoch);
          await tx.query(p.sql, params);
        });
      };
      // Sorted by key, so concurrent writers of overlapping keys lock rows in one order (no deadlock).
      const rows = records.map(valuesOf).map((values) => ({ values, key: JSON.stringify(keyIndexes.map((i) => toPgText(values[i]))) }));
      rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const chunks: (typeof rows)[] = [];
      for (let i = 0; i < rows.length; i += chunkSize) chunks.push(rows.slice(i, i + chunkSize));
      let next = 0;
      const worker = async () => {
        while (next < chunks.length) {
          const chunk = chunks[next++]!;
          const params = columns.map((_, c) => chunk.map((r) => toPgText(r.values[c], p.json[c])));
          await withRetry(() => run(params), { ...options.retry, logger: context.logger, signal: context.signal, what: `upsert into ${options.table}` });
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, chunks.length) }, worker));
    },
    async close() {
      const db = database;
      database = undefined;
      prepared = undefined;
      fenceTable = undefined;
      if (db) await (await db).close();
    },
  };
}

