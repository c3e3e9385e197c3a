import { FencedError } from '@microbatch/core';
import type { SqlExecutor } from './db.js';
import type { SinkTables } from './schema.js';

export interface FenceKey {
  readonly appId: string;
  readonly outputName: string;
}

/**
 * Announces `epoch` as the newest writer of this output. Taking the row lock of the UPDATE waits
 * for every in-flight transaction of older epochs (they hold it FOR SHARE), so once this
 * returns no older epoch can commit any more. Throws FencedError if a newer epoch already wrote.
 */
export async function claimEpoch(db: SqlExecutor, tables: SinkTables, key: FenceKey, epoch: number): Promise<void> {
  const claimed = await db.query(
    `INSERT INTO ${tables.fences} (app_id, output_name, epoch) VALUES ($1, $2, $3)
     ON CONFLICT (app_id, output_name) DO UPDATE SET epoch = EXCLUDED.epoch WHERE ${tables.fences}.epoch < EXCLUDED.epoch
     RETURNING epoch`,
    [key.appId, key.outputName, epoch],
  );
  if (claimed.rowCount > 0) return;
  await checkEpoch(db, tables, key, epoch, false);
}

/**
 * Inside a write transaction: refuses an epoch older than the newest one that claimed this output.
 * FOR SHARE keeps concurrent partitions of one epoch from blocking each other while making a
 * newer claim wait for this transaction to finish.
 */
export async function checkEpoch(db: SqlExecutor, tables: SinkTables, key: FenceKey, epoch: number, lock = true): Promise<void> {
  const { rows } = await db.query<{ epoch: string | number }>(
    `SELECT epoch FROM ${tables.fences} WHERE app_id = $1 AND output_name = $2${lock ? ' FOR SHARE' : ''}`,
    [key.appId, key.outputName],
  );
  const current = rows[0] === undefined ? 0 : Number(rows[0].epoch);
  if (current > epoch) throw fencedError(key, epoch, current);
}

/** The error of a write (or claim) by `epoch` after the newer epoch `current` claimed the output. */
export function fencedError(key: FenceKey, epoch: number, current: number): FencedError {
  return new FencedError(
    `Output "${key.outputName}" of app "${key.appId}": epoch ${epoch} is older than epoch ${current}, which already wrote; this process is a zombie`,
    { epoch, currentEpoch: current, details: { output: key.outputName, appId: key.appId } },
  );
}

/**
 * Forgets the newest epoch recorded for an app (or one of its outputs). Epochs come from the
 * checkpoint store; when the checkpoint is discarded (recovery from the database alone, see
 * withCommittedOffsets), the store counts from 1 again and the sink would fence the new process.
 * Call this only once the old processes are certainly dead.
 */
export async function resetFencing(db: SqlExecutor, tables: SinkTables, key: { appId: string; outputName?: string }): Promise<void> {
  await db.query(`DELETE FROM ${tables.fences} WHERE app_id = $1${key.outputName === undefined ? '' : ' AND output_name = $2'}`, [
    key.appId,
    ...(key.outputName === undefined ? [] : [key.outputName]),
  ]);
}
