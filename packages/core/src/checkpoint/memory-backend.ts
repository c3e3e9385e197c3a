import { FencedError } from '../errors.js';
import { blobToBuffer, type CheckpointBackend } from './backend.js';
import { createCheckpointStore, type CheckpointStore, type CheckpointStoreOptions } from './store.js';

/** The contents of an in-memory store; share one between store instances to simulate a restart. */
export interface MemoryCheckpointData {
  readonly epochs: Map<string, number>;
  readonly checkpoints: Map<string, Map<string, Uint8Array>>;
  readonly blobs: Map<string, Map<string, Uint8Array>>;
}

export function createMemoryCheckpointData(): MemoryCheckpointData {
  return { epochs: new Map(), checkpoints: new Map(), blobs: new Map() };
}

export interface MemoryCheckpointStoreOptions extends CheckpointStoreOptions {
  /** Existing contents to open, e.g. the data of a store a simulated crash left behind. Default: empty. */
  data?: MemoryCheckpointData;
}

/** A backend that keeps everything in process memory: for tests and demos, not for production. */
export function createMemoryCheckpointBackend(data: MemoryCheckpointData = createMemoryCheckpointData()): CheckpointBackend {
  const bucket = (map: Map<string, Map<string, Uint8Array>>, appId: string) => {
    let inner = map.get(appId);
    if (!inner) map.set(appId, (inner = new Map()));
    return inner;
  };
  const fence = (appId: string, epoch: number, what: string) => {
    const current = data.epochs.get(appId) ?? 0;
    if (epoch !== current) {
      throw new FencedError(`Refused ${what} for app ${appId} from epoch ${epoch}; current epoch is ${current}`, {
        epoch,
        currentEpoch: current,
        details: { appId },
      });
    }
  };
  return {
    kind: 'memory',
    async acquireEpoch(appId) {
      const next = (data.epochs.get(appId) ?? 0) + 1;
      data.epochs.set(appId, next);
      return next;
    },
    async currentEpoch(appId) {
      return data.epochs.get(appId) ?? 0;
    },
    async putCheckpoint(appId, name, bytes, epoch) {
      fence(appId, epoch, `checkpoint ${name}`);
      bucket(data.checkpoints, appId).set(name, Uint8Array.from(bytes));
    },
    async listCheckpoints(appId) {
      return [...bucket(data.checkpoints, appId).keys()];
    },
    async getCheckpoint(appId, name) {
      const bytes = bucket(data.checkpoints, appId).get(name);
      return bytes && Uint8Array.from(bytes);
    },
    async deleteCheckpoint(appId, name) {
      bucket(data.checkpoints, appId).delete(name);
    },
    async putBlob(appId, key, content, epoch) {
      const bytes = await blobToBuffer(content);
      fence(appId, epoch, `blob ${key}`);
      bucket(data.blobs, appId).set(key, Uint8Array.from(bytes));
    },
    async getBlob(appId, key) {
      const bytes = bucket(data.blobs, appId).get(key);
      if (!bytes) return undefined;
      const copy = Uint8Array.from(bytes);
      return (async function* () {
        yield copy;
      })();
    },
    async listBlobs(appId) {
      return [...bucket(data.blobs, appId).keys()];
    },
    async deleteBlob(appId, key) {
      bucket(data.blobs, appId).delete(key);
    },
    async close() {},
  };
}

export function createMemoryCheckpointStore(options: MemoryCheckpointStoreOptions = {}): CheckpointStore {
  return createCheckpointStore(createMemoryCheckpointBackend(options.data), options);
}
