import { MicrobatchError } from '@microbatch/core';
import type { Database } from './db.js';
import { quoteIdent } from './sql.js';

export interface SchemaOptions {
  /** Schema of the bookkeeping tables. Default: the connection's search_path (usually `public`). */
  readonly schema?: string;
  /** Prefix of the bookkeeping tables' names. Default `microbatch_`. */
  readonly tablePrefix?: string;
}

/** Quoted names of the three bookkeeping tables. */
export interface SinkTables {
  /** One row per committed (app, output, batch time, partition): the commit marker. */
  readonly markers: string;
  /** One row per (app, output): the newest epoch that wrote, for fencing zombies. */
  readonly fences: string;
  /** One row per (app, output, source, source partition): the next offset to read (`storeOffsets`). */
  readonly offsets: string;
}

export function sinkTables(options: SchemaOptions = {}): SinkTables {
  const prefix = options.tablePrefix ?? 'microbatch_';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix)) {
    throw new MicrobatchError('INVALID_OPTION', 'Invalid option "tablePrefix": letters, digits and _ only', { details: { option: 'tablePrefix', value: prefix } });
  }
  const name = (table: string) => (options.schema ? `${quoteIdent(options.schema)}.` : '') + quoteIdent(`${prefix}${table}`);
  return { markers: name('markers'), fences: name('fences'), offsets: name('offsets') };
}

/**
 * The DDL of the bookkeeping tables, for a migration tool. The sink runs it itself on first use
 * unless `createTables: false`.
 */
export function migrationSql(options: SchemaOptions = {}): string {
  const t = sinkTables(options);
  return `CREATE TABLE IF NOT EXISTS ${t.markers} (
  app_id text NOT NULL,
  output_name text NOT NULL,
  batch_time bigint NOT NULL,
  partition_id integer NOT NULL,
  num_partitions integer NOT NULL,
  epoch bigint NOT NULL,
  -- true when one of the partition's source ranges also feeds another partition (a shuffle)
  shared_ranges boolean NOT NULL DEFAULT false,
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (app_id, output_name, batch_time, partition_id)
);
CREATE TABLE IF NOT EXISTS ${t.fences} (
  app_id text NOT NULL,
  output_name text NOT NULL,
  epoch bigint NOT NULL,
  PRIMARY KEY (app_id, output_name)
);
CREATE TABLE IF NOT EXISTS ${t.offsets} (
  app_id text NOT NULL,
  output_name text NOT NULL,
  source text NOT NULL,
  source_partition text NOT NULL,
  next_offset bigint NOT NULL,
  batch_time bigint NOT NULL,
  PRIMARY KEY (app_id, output_name, source, source_partition)
);
`;
}

/**
 * Creates the tables if missing. Concurrent `CREATE TABLE IF NOT EXISTS` can still collide in
 * the catalog, so creators queue on one advisory lock.
 */
export async function ensureTables(db: Database, options: SchemaOptions = {}): Promise<void> {
  const sql = migrationSql(options);
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('microbatch:migrate'))`);
    for (const statement of sql.split(';\n').map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
  });
}
