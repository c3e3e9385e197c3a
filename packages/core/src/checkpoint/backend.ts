/**
 * The primitives a checkpoint store driver implements. Everything above them (encoding,
 * skipping corrupt checkpoints, retention, blob garbage collection) is shared code in
 * `createCheckpointStore`, so each driver only has to get atomicity and fencing right.
 */
export interface CheckpointBackend {
  /** Short driver name for logs and errors, e.g. "fs", "redis", "s3". */
  readonly kind: string;
  /**
   * Atomically takes a new epoch for the app and returns it: strictly greater than every epoch
   * returned before for that app (not necessarily consecutive); the first is at least 1.
   */
  acquireEpoch(appId: string): Promise<number>;
  /** The app's newest epoch, 0 if none was ever taken. */
  currentEpoch(appId: string): Promise<number>;
  /**
   * Writes checkpoint `name` atomically (readers see all of it or none of it) if and only if
   * `epoch` equals the app's current epoch, checked atomically with the write; otherwise throws
   * FencedError and writes nothing.
   */
  putCheckpoint(appId: string, name: string, bytes: Uint8Array, epoch: number): Promise<void>;
  /** Names of the app's checkpoints, in any order. */
  listCheckpoints(appId: string): Promise<string[]>;
  /** The bytes of a checkpoint, or undefined when it does not exist. */
  getCheckpoint(appId: string, name: string): Promise<Uint8Array | undefined>;
  deleteCheckpoint(appId: string, name: string): Promise<void>;
  /**
   * Writes a blob atomically, fenced like putCheckpoint where the backend can check the epoch
   * atomically with the write. Where it cannot (S3 has no multi-object condition), checking the
   * epoch before and after the write is enough: blob keys start with the writer's epoch
   * (`blobKey`), so a stale writer's blob can never replace a newer one, and it is unreferenced
   * garbage at worst. Blob keys may contain "/".
   */
  putBlob(appId: string, key: string, data: BlobData, epoch: number): Promise<void>;
  /** The blob's content, or undefined when it does not exist. */
  getBlob(appId: string, key: string): Promise<AsyncIterable<Uint8Array> | undefined>;
  listBlobs(appId: string): Promise<string[]>;
  deleteBlob(appId: string, key: string): Promise<void>;
  /** Releases clients this backend created; injected clients are left open. Safe to call twice. */
  close(): Promise<void>;
}

/** Blob content: whole, or streamed in chunks so large state snapshots never need one big buffer. */
export type BlobData = Uint8Array | AsyncIterable<Uint8Array>;

export async function blobToBuffer(data: BlobData | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (data instanceof Uint8Array) return data;
  const chunks: Uint8Array[] = [];
  for await (const chunk of data) chunks.push(chunk);
  return Buffer.concat(chunks);
}
