import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import {
  FencedError,
  MicrobatchError,
  createCheckpointStore,
  createDefaultLogger,
  invalidOption,
  isMicrobatchError,
  type CheckpointBackend,
  type CheckpointStore,
  type CheckpointStoreOptions,
} from '@microbatch/core';
import { syncDirectory, writeDurably } from './durable-file.js';
import { hasCode, ignoreMissing, withLockFile } from './lock-file.js';

export interface FsCheckpointStoreOptions extends CheckpointStoreOptions {
  /** Root directory; each app gets `<dir>/<appId>/`. Created when missing. Required. */
  dir: string;
  /** How long to wait for another process's lock on the same app before failing. Default 10000 ms. */
  lockTimeoutMs?: number;
}

/*
 * Layout of one app:
 *   <dir>/<appId>/epoch              current epoch, replaced atomically
 *   <dir>/<appId>/.lock              exclusive-create lock held while the epoch is checked or changed
 *   <dir>/<appId>/checkpoints/<name> one file per checkpoint
 *   <dir>/<appId>/blobs/<key>        blob keys map to nested paths
 *   <dir>/<appId>/tmp/<pid>-<rand>   files being written; renamed into place when complete
 */
export function createFsCheckpointBackend(options: FsCheckpointStoreOptions): CheckpointBackend {
  if (typeof options?.dir !== 'string' || options.dir === '') throw invalidOption('dir', 'must be a non-empty path', options?.dir);
  const lockTimeoutMs = options.lockTimeoutMs ?? 10_000;
  if (!Number.isFinite(lockTimeoutMs) || lockTimeoutMs < 0) throw invalidOption('lockTimeoutMs', 'must be a number >= 0', lockTimeoutMs);
  const root = resolve(options.dir);
  const prepared = new Set<string>();

  const app = (appId: string) => join(root, appId);
  const checkpointsDir = (appId: string) => join(app(appId), 'checkpoints');
  const blobsDir = (appId: string) => join(app(appId), 'blobs');
  const tmpPath = (appId: string) => join(app(appId), 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}`);
  const lock = <T>(appId: string, fn: () => Promise<T>) => withLockFile(join(app(appId), '.lock'), { timeoutMs: lockTimeoutMs }, fn);

  async function prepare(appId: string): Promise<void> {
    if (prepared.has(appId)) return;
    for (const sub of ['checkpoints', 'blobs', 'tmp']) await mkdir(join(app(appId), sub), { recursive: true });
    prepared.add(appId);
  }

  async function readEpoch(appId: string): Promise<number> {
    let text: string;
    try {
      text = await readFile(join(app(appId), 'epoch'), 'utf8');
    } catch (error) {
      if (hasCode(error, 'ENOENT')) return 0;
      throw error;
    }
    const epoch = Number(text.trim());
    if (!Number.isSafeInteger(epoch) || epoch < 1) {
      throw new MicrobatchError('CHECKPOINT_CORRUPT', `Epoch file of app ${appId} holds ${JSON.stringify(text)}, not an epoch`, {
        details: { appId, path: join(app(appId), 'epoch') },
      });
    }
    return epoch;
  }

  /** Writes to a temporary file, then renames it into place under the lock iff `epoch` is current. */
  async function fencedPut(appId: string, what: string, target: string, data: Parameters<typeof writeDurably>[1], epoch: number) {
    await prepare(appId);
    const tmp = tmpPath(appId);
    try {
      await writeDurably(tmp, data);
      await lock(appId, async () => {
        const current = await readEpoch(appId);
        if (current !== epoch) {
          throw new FencedError(`Refused ${what} for app ${appId} from epoch ${epoch}; current epoch is ${current}`, {
            epoch,
            currentEpoch: current,
            details: { appId, dir: root },
          });
        }
        const parent = join(target, '..');
        // A concurrent blob delete may remove an emptied parent between mkdir and rename: retry once.
        for (let attempt = 0; ; attempt++) {
          await mkdir(parent, { recursive: true });
          try {
            await rename(tmp, target);
            break;
          } catch (error) {
            if (!hasCode(error, 'ENOENT') || attempt > 0) throw error;
          }
        }
        await syncDirectory(parent);
      });
    } finally {
      await unlink(tmp).catch(ignoreMissing);
    }
  }

  /** Removes temporary files left by writers that died mid-write (their pid is gone). */
  async function sweepTmp(appId: string): Promise<void> {
    for (const name of await readdir(join(app(appId), 'tmp'))) {
      const pid = Number(name.split('-')[0]);
      if (pid === process.pid || !Number.isInteger(pid)) continue;
      try {
        process.kill(pid, 0);
      } catch (error) {
        if (hasCode(error, 'ESRCH')) await unlink(join(app(appId), 'tmp', name)).catch(ignoreMissing);
      }
    }
  }

  const guard =
    <A extends unknown[], R>(op: string, fn: (appId: string, ...rest: A) => Promise<R>) =>
    async (appId: string, ...rest: A): Promise<R> => {
      try {
        return await fn(appId, ...rest);
      } catch (error) {
        if (isMicrobatchError(error)) throw error;
        throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `fs checkpoint store: ${op} for app ${appId} failed: ${String(error)}`, {
          cause: error,
          details: { op, appId, dir: root, errno: (error as { code?: unknown }).code },
        });
      }
    };

  return {
    kind: 'fs',
    acquireEpoch: guard('acquireEpoch', async (appId) => {
      await prepare(appId);
      const epoch = await lock(appId, async () => {
        const next = (await readEpoch(appId)) + 1;
        const tmp = tmpPath(appId);
        await writeDurably(tmp, Buffer.from(`${next}\n`));
        await rename(tmp, join(app(appId), 'epoch'));
        await syncDirectory(app(appId));
        return next;
      });
      await sweepTmp(appId);
      return epoch;
    }),
    currentEpoch: guard('currentEpoch', readEpoch),
    putCheckpoint: guard('putCheckpoint', (appId, name: string, bytes: Uint8Array, epoch: number) =>
      fencedPut(appId, `checkpoint ${name}`, join(checkpointsDir(appId), name), bytes, epoch),
    ),
    listCheckpoints: guard('listCheckpoints', async (appId) => readdir(checkpointsDir(appId)).catch(emptyIfMissing<string>)),
    getCheckpoint: guard('getCheckpoint', async (appId, name: string) => {
      try {
        return await readFile(join(checkpointsDir(appId), name)); // a Buffer is a Uint8Array: no copy
      } catch (error) {
        if (hasCode(error, 'ENOENT')) return undefined;
        throw error;
      }
    }),
    deleteCheckpoint: guard('deleteCheckpoint', async (appId, name: string) => {
      await unlink(join(checkpointsDir(appId), name)).catch(ignoreMissing);
    }),
    putBlob: guard('putBlob', (appId, key: string, data: Parameters<typeof writeDurably>[1], epoch: number) =>
      fencedPut(appId, `blob ${key}`, blobPath(blobsDir(appId), key), data, epoch),
    ),
    getBlob: guard('getBlob', async (appId, key: string) => {
      try {
        const handle = await open(blobPath(blobsDir(appId), key), 'r');
        return handle.createReadStream() as AsyncIterable<Uint8Array>;
      } catch (error) {
        if (hasCode(error, 'ENOENT')) return undefined;
        throw error;
      }
    }),
    listBlobs: guard('listBlobs', async (appId) => {
      const entries = await readdir(blobsDir(appId), { recursive: true, withFileTypes: true }).catch(emptyIfMissing<Dirent>);
      return entries
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name).slice(blobsDir(appId).length + 1).split(sep).join('/'));
    }),
    deleteBlob: guard('deleteBlob', async (appId, key: string) => {
      const base = blobsDir(appId);
      let path = blobPath(base, key);
      await unlink(path).catch(ignoreMissing);
      // Drop emptied parent folders (one per epoch and operator) so they do not pile up.
      while ((path = join(path, '..')) !== base) {
        try {
          await rmdir(path);
        } catch (error) {
          if (hasCode(error, 'ENOTEMPTY') || hasCode(error, 'EEXIST') || hasCode(error, 'ENOENT')) break;
          throw error;
        }
      }
    }),
    async close() {},
  };
}

/** Blob keys become nested paths; segments that could escape the blobs folder are refused. */
function blobPath(base: string, key: string): string {
  const segments = key.split('/');
  if (key.includes('\\') || key.includes('\0') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw invalidOption('key', 'blob keys are "/"-separated non-empty segments without "." or ".."', key);
  }
  return join(base, ...segments);
}

function emptyIfMissing<T>(error: unknown): T[] {
  if (hasCode(error, 'ENOENT')) return [];
  throw error;
}

/** A checkpoint store in a local directory, safe to share between processes on one host. */
export function createFsCheckpointStore(options: FsCheckpointStoreOptions): CheckpointStore {
  const logger = options?.logger ?? createDefaultLogger({ component: 'checkpoint-fs' });
  return createCheckpointStore(createFsCheckpointBackend(options), { ...options, logger });
}
