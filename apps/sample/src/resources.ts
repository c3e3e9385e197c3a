import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { createRedisCheckpointStore } from '@microbatch/checkpoint-redis';
import { createS3CheckpointStore } from '@microbatch/checkpoint-s3';
import type { CheckpointStore, Logger } from '@microbatch/core';
import { fromPglite, fromPool, type Database } from '@microbatch/sink-postgres';
import pg from 'pg';
import type { CheckpointSpec, SinkSpec } from './uris.js';

export function openCheckpointStore(spec: CheckpointSpec, logger: Logger): CheckpointStore {
  switch (spec.kind) {
    case 'fs':
      return createFsCheckpointStore({ dir: spec.dir, logger });
    case 'redis':
      return createRedisCheckpointStore({ url: spec.url, ...(spec.keyPrefix ? { keyPrefix: spec.keyPrefix } : {}), logger });
    case 's3':
      // Credentials come from the standard AWS provider chain (AWS_ACCESS_KEY_ID, profiles, roles...).
      return createS3CheckpointStore({
        bucket: spec.bucket,
        prefix: spec.prefix,
        ...(spec.endpoint ? { endpoint: spec.endpoint, forcePathStyle: true } : {}),
        ...(spec.region ? { region: spec.region } : {}),
        logger,
      });
  }
}

export interface OpenDatabase {
  /** For the sinks and the app's own queries; the sinks do not own it, so their close() leaves it open. */
  readonly db: Database;
  /** Closes the client (the app owns it). */
  close(): Promise<void>;
}

/** One database client shared by both sinks (PGlite allows one instance per directory). */
export async function openDatabase(spec: Exclude<SinkSpec, { kind: 'kafka' }>, logger: Logger): Promise<OpenDatabase> {
  if (spec.kind === 'pglite') {
    mkdirSync(spec.dir, { recursive: true });
    const client = await PGlite.create(spec.dir);
    return { db: fromPglite(client), close: () => client.close() };
  }
  const pool = new pg.Pool({ connectionString: spec.url, max: 12 });
  return { db: fromPool(pool, { logger }), close: () => pool.end() };
}

export const TABLES_SQL = `
CREATE TABLE IF NOT EXISTS events_raw (
  event_id text PRIMARY KEY, user_id text NOT NULL, page text NOT NULL, amount bigint NOT NULL, ts bigint NOT NULL,
  source_partition int NOT NULL, source_offset bigint NOT NULL);
CREATE TABLE IF NOT EXISTS page_views (page text NOT NULL, minute bigint NOT NULL, views bigint NOT NULL, PRIMARY KEY (page, minute));
CREATE TABLE IF NOT EXISTS user_totals (user_id text PRIMARY KEY, events bigint NOT NULL, amount bigint NOT NULL, batch_time bigint NOT NULL);
CREATE TABLE IF NOT EXISTS events_rejected (
  source_partition int NOT NULL, source_offset bigint NOT NULL, reason text NOT NULL, raw text NOT NULL,
  PRIMARY KEY (source_partition, source_offset));
`;

/**
 * Creates the sample's tables if missing. Members of a group start together, and concurrent
 * `CREATE TABLE IF NOT EXISTS` collide in Postgres's catalog (a unique violation on pg_type), so
 * creators queue on one advisory lock, as sink-postgres's own tables do.
 */
export async function createTables(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('microbatch-sample:tables'))`);
    for (const statement of TABLES_SQL.split(';').map((s) => s.trim()).filter(Boolean)) await tx.query(statement);
  });
}
