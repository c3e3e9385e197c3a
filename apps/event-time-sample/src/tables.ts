/**
 * No unique constraints on purpose: a window or late record written twice stays visible as two
 * rows, so the verifier can see duplicates instead of a constraint hiding (or failing on) them.
 */
export const TABLES_SQL = [
  `CREATE TABLE IF NOT EXISTS window_counts (page text NOT NULL, window_start bigint NOT NULL, window_end bigint NOT NULL, views bigint NOT NULL, batch_time bigint NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS late_events (event_id text NOT NULL, page text NOT NULL, ts bigint NOT NULL, watermark bigint NOT NULL, batch_time bigint NOT NULL)`,
];
