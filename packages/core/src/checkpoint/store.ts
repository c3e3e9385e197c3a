import type { Logger } from '../api/logger.js';
import { createDefaultLogger } from '../api/logger.js';
import { MicrobatchError, invalidOption, isMicrobatchError } from '../errors.js';
import type { BlobData, CheckpointBackend } from './backend.js';
import { decodeCheckpoint, encodeCheckpoint } from './codec.js';
import { checkpointName, isCheckpointName, type Checkpoint } from './format.js';

export interface LatestCheckpoint {
  readonly name: string;
  readonly checkpoint: Checkpoint;
  /** Newer checkpoints that were corrupt and skipped, newest first. */
  readonly skipped: ReadonlyArray<{ readonly name: string; readonly error: MicrobatchError }>;
}

/** What the engine talks to. Build one from a backend with `createCheckpointStore`. */
export interface CheckpointStore {
  readonly kind: string;
  /** How many newest checkpoints are kept per app; a restart can fall back to any of them. */
  readonly retain: number;
  acquireEpoch(appId: string): Promise<number>;
  currentEpoch(appId: string): Promise<number>;
  /** Atomic, fenced by `checkpoint.epoch`; then applies retention and deletes unreferenced blobs. */
  write(checkpoint: Checkpoint): Promise<void>;
  /** The newest valid checkpoint; corrupt newer ones are reported and skipped. Throws when all are corrupt. */
  latest(appId: string): Promise<LatestCheckpoint | undefined>;
  /** Checkpoint names, oldest first. */
  list(appId: string): Promise<string[]>;
  read(appId: string, name: string): Promise<Checkpoint>;
  putBlob(appId: string, key: string, data: BlobData, epoch: number): Promise<void>;
  /** Throws BLOB_NOT_FOUND when absent. */
  getBlob(appId: string, key: string): Promise<AsyncIterable<Uint8Array>>;
  listBlobs(appId: string): Promise<string[]>;
  close(): Promise<void>;
}

export interface CheckpointStoreOptions {
  /** How many newest checkpoints to keep per app. Default 10. */
  retain?: number;
  /** Receives a warning for every corrupt checkpoint skipped. Default: the default logger (warnings on stderr). */
  logger?: Logger;
}

const APP_ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** App ids become path segments and key parts in every store, so they are restricted to a safe alphabet. */
export function assertValidAppId(appId: unknown): asserts appId is string {
  if (typeof appId !== 'string' || !APP_ID_PATTERN.test(appId)) {
    throw invalidOption('appId', 'must be 1-128 characters of A-Z a-z 0-9 . _ -', appId);
  }
}

/**
 * Blob keys start with the epoch that wrote them, so garbage collection by a stalled older
 * process can never delete blobs a newer process wrote but has not referenced yet.
 */
export function blobKey(epoch: number, name: string): string {
  return `e${String(epoch).padStart(10, '0')}/${name}`;
}

function epochOfBlobKey(key: string): number {
  const match = /^e(\d{10})\//.exec(key);
  return match ? Number(match[1]) : Number.POSITIVE_INFINITY;
}

export function createCheckpointStore(backend: CheckpointBackend, options: CheckpointStoreOptions = {}): CheckpointStore {
  const retain = options.retain ?? 10;
  if (!Number.isInteger(retain) || retain < 1) throw invalidOption('retain', 'must be an integer >= 1', retain);
  // Skipped corrupt checkpoints must be reported, so the default is not silent.
  const logger = options.logger ?? createDefaultLogger({ component: 'checkpoint-store', store: backend.kind });
  // Blob references of checkpoints this process has seen, so retention rarely re-reads them.
  const referencedBy = new Map<string, readonly string[]>();
  const collectedOnce = new Set<string>();
  // Retained checkpoints found unreadable: reported once each, not on every write while they stay.
  const reportedUnreadable = new Set<string>();
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new MicrobatchError('STOPPED', `The ${backend.kind} checkpoint store is closed`);
  };

  async function sortedNames(appId: string): Promise<string[]> {
    return (await backend.listCheckpoints(appId)).filter(isCheckpointName).sort();
  }

  async function read(appId: string, name: string): Promise<Checkpoint> {
    const bytes = await backend.getCheckpoint(appId, name);
    if (bytes === undefined) {
      throw new MicrobatchError('CHECKPOINT_CORRUPT', `Checkpoint ${appId}/${name} vanished while it was being read`, {
        details: { appId, name },
      });
    }
    const checkpoint = decodeCheckpoint(bytes, `${backend.kind}:${appId}/${name}`);
    if (checkpoint.appId !== appId) {
      throw new MicrobatchError('CHECKPOINT_CORRUPT', `Checkpoint ${appId}/${name} belongs to app ${checkpoint.appId}`, {
        details: { appId, name, foundAppId: checkpoint.appId },
      });
    }
    return checkpoint;
  }

  async function referencedBlobs(appId: string, names: string[]): Promise<Set<string> | undefined> {
    const keys = new Set<string>();
    for (const name of names) {
      let blobs = referencedBy.get(`${appId}/${name}`);
      if (!blobs) {
        try {
          blobs = (await read(appId, name)).blobs;
        } catch (error) {
          // A retained checkpoint we cannot read might reference any blob: keep them all until
          // retention removes it. Said once per checkpoint; the writes that follow stay quiet.
          if (!reportedUnreadable.has(`${appId}/${name}`)) {
            reportedUnreadable.add(`${appId}/${name}`);
            logger.warn({ appId, name, err: error }, 'cannot read a retained checkpoint; blob collection is postponed until retention removes it');
          }
          return undefined;
        }
        referencedBy.set(`${appId}/${name}`, blobs);
      }
      for (const key of blobs) keys.add(key);
    }
    return keys;
  }

  async function applyRetention(checkpoint: Checkpoint, name: string): Promise<void> {
    const { appId } = checkpoint;
    const names = await sortedNames(appId);
    const cut = Math.max(0, names.length - retain);
    const doomed = names.slice(0, cut).filter((n) => n !== name);
    const kept = names.slice(cut);
    const previous = kept.at(-2);
    const blobsChanged = previous === undefined || !sameBlobs(referencedBy.get(`${appId}/${previous}`), checkpoint.blobs);
    for (const old of doomed) {
      await backend.deleteCheckpoint(appId, old);
    }
    // Collect blobs when a checkpoint left, when references changed, and once per process for crash leftovers.
    if (doomed.length === 0 && !blobsChanged && collectedOnce.has(appId)) {
      for (const old of doomed) referencedBy.delete(`${appId}/${old}`);
      return;
    }
    const live = await referencedBlobs(appId, kept);
    for (const old of doomed) referencedBy.delete(`${appId}/${old}`);
    if (!live) return;
    for (const key of await backend.listBlobs(appId)) {
      if (!live.has(key) && epochOfBlobKey(key) <= checkpoint.epoch) await backend.deleteBlob(appId, key);
    }
    collectedOnce.add(appId);
  }

  return {
    kind: backend.kind,
    retain,
    async acquireEpoch(appId) {
      assertOpen();
      assertValidAppId(appId);
      return backend.acquireEpoch(appId);
    },
    async currentEpoch(appId) {
      assertOpen();
      assertValidAppId(appId);
      return backend.currentEpoch(appId);
    },
    async write(checkpoint) {
      assertOpen();
      assertValidAppId(checkpoint.appId);
      const name = checkpointName(checkpoint);
      await backend.putCheckpoint(checkpoint.appId, name, encodeCheckpoint(checkpoint), checkpoint.epoch);
      referencedBy.set(`${checkpoint.appId}/${name}`, checkpoint.blobs);
      await applyRetention(checkpoint, name);
    },
    async latest(appId) {
      assertOpen();
      assertValidAppId(appId);
      const names = (await sortedNames(appId)).reverse();
      const skipped: Array<{ name: string; error: MicrobatchError }> = [];
      for (const name of names) {
        try {
          const checkpoint = await read(appId, name);
          return { name, checkpoint, skipped };
        } catch (error) {
          if (!isMicrobatchError(error, 'CHECKPOINT_CORRUPT')) throw error;
          logger.warn({ appId, name, err: error }, 'skipping corrupt checkpoint');
          skipped.push({ name, error });
        }
      }
      if (skipped.length > 0) {
        throw new MicrobatchError(
          'CHECKPOINT_CORRUPT',
          `All ${skipped.length} checkpoints of app ${appId} in the ${backend.kind} store are corrupt; refusing to start from scratch`,
          { cause: skipped[0]?.error, details: { appId, names: skipped.map((s) => s.name) } },
        );
      }
      return undefined;
    },
    async list(appId) {
      assertOpen();
      assertValidAppId(appId);
      return sortedNames(appId);
    },
    async read(appId, name) {
      assertOpen();
      assertValidAppId(appId);
      return read(appId, name);
    },
    async putBlob(appId, key, data, epoch) {
      assertOpen();
      assertValidAppId(appId);
      await backend.putBlob(appId, key, data, epoch);
    },
    async getBlob(appId, key) {
      assertOpen();
      assertValidAppId(appId);
      const data = await backend.getBlob(appId, key);
      if (data === undefined) {
        throw new MicrobatchError('BLOB_NOT_FOUND', `Blob ${key} of app ${appId} not found in the ${backend.kind} store`, {
          details: { appId, key },
        });
      }
      return data;
    },
    async listBlobs(appId) {
      assertOpen();
      assertValidAppId(appId);
      return backend.listBlobs(appId);
    },
    async close() {
      if (closed) return;
      closed = true;
      await backend.close();
    },
  };
}

function sameBlobs(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((key, i) => key === b[i]);
}
