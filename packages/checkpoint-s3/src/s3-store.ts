import { randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import {
  FencedError,
  MicrobatchError,
  blobToBuffer,
  createCheckpointStore,
  createDefaultLogger,
  invalidOption,
  type CheckpointBackend,
  type CheckpointStore,
  type CheckpointStoreOptions,
  type Logger,
} from '@microbatch/core';
import { EMPTY_HEAD, HISTORY_LENGTH, parseHead, type Head } from './head.js';
import { probeConditionalWrites } from './probe.js';
import { httpStatus, isConflict, withRetries, type RetryPolicy } from './retry.js';

export interface S3CheckpointStoreOptions extends CheckpointStoreOptions {
  /** Bucket holding the checkpoints; it must exist. Required. */
  bucket: string;
  /** Key prefix; an app's objects are `<prefix><appId>/...`. Empty or ending in "/". Default `microbatch/`. */
  prefix?: string;
  /** An S3Client to use; the store never destroys it. Default: one built from the options below. */
  client?: S3Client;
  /** Endpoint of an S3-compatible server (MinIO, R2, Ceph RGW...). Default: AWS S3. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. Default false. */
  forcePathStyle?: boolean;
  /** Default: `AWS_REGION`, else `us-east-1`. */
  region?: string;
  /** Default: the AWS SDK's default provider chain (env, shared files, SSO, instance roles...). */
  credentials?: S3ClientConfig['credentials'];
  /**
   * `auto` probes once whether the server honours `If-None-Match: *` on PUT and falls back (with a
   * warning) to check-then-write when it ignores or refuses the header; `require` fails instead of
   * falling back; `off` never sends it. Default `auto`.
   */
  conditionalWrites?: 'auto' | 'require' | 'off';
  /**
   * The AWS SDK's flexible checksums on requests: `WHEN_REQUIRED` sends checksum headers only on
   * operations that need one (none this store uses), `WHEN_SUPPORTED` (the SDK's own default) on
   * every PUT, which many S3-compatible servers answer with 501 NotImplemented. Checkpoints carry
   * their own SHA-256. Ignored with an injected `client`. Default `WHEN_REQUIRED`.
   */
  requestChecksumCalculation?: ChecksumSetting;
  /** Validation of response checksums, likewise. Ignored with an injected `client`. Default `WHEN_REQUIRED`. */
  responseChecksumValidation?: ChecksumSetting;
  /** Retries of a request that failed with 5xx, throttling or a network error. Default 8. */
  maxRetries?: number;
  /** First backoff delay, doubled on each retry. Default 200 ms. */
  retryDelayMs?: number;
  /** Cap of the backoff delay. Default 5000 ms. */
  maxRetryDelayMs?: number;
}

export type ChecksumSetting = 'WHEN_REQUIRED' | 'WHEN_SUPPORTED';
const CHECKSUM_SETTINGS: readonly string[] = ['WHEN_REQUIRED', 'WHEN_SUPPORTED'] satisfies ChecksumSetting[];

/*
 * Objects of one app:
 *   <prefix><appId>/head/<version>                 epoch + committed checkpoint names, one object per change
 *   <prefix><appId>/checkpoints/<name>.e<epoch>    one object per checkpoint; names sort by batch time
 *   <prefix><appId>/blobs/<key>                    state snapshots
 */
export function createS3CheckpointBackend(options: S3CheckpointStoreOptions, logger: Logger): CheckpointBackend {
  if (typeof options?.bucket !== 'string' || options.bucket === '') throw invalidOption('bucket', 'must be a bucket name', options?.bucket);
  const { bucket } = options;
  const prefix = options.prefix ?? 'microbatch/';
  if (typeof prefix !== 'string' || (prefix !== '' && !prefix.endsWith('/'))) throw invalidOption('prefix', 'must be empty or end with "/"', prefix);
  const mode = options.conditionalWrites ?? 'auto';
  if (!['auto', 'require', 'off'].includes(mode)) throw invalidOption('conditionalWrites', 'must be auto, require or off', mode);
  const checksums = {
    requestChecksumCalculation: checksumSetting('requestChecksumCalculation', options.requestChecksumCalculation),
    responseChecksumValidation: checksumSetting('responseChecksumValidation', options.responseChecksumValidation),
  };
  const policy: RetryPolicy = {
    maxRetries: nonNegative('maxRetries', options.maxRetries ?? 8),
    retryDelayMs: nonNegative('retryDelayMs', options.retryDelayMs ?? 200),
    maxRetryDelayMs: nonNegative('maxRetryDelayMs', options.maxRetryDelayMs ?? 5000),
  };
  if (options.endpoint !== undefined) {
    try {
      if (!/^https?:$/.test(new URL(options.endpoint).protocol)) throw new Error('protocol must be http: or https:');
    } catch (cause) {
      throw new MicrobatchError('INVALID_URI', `Invalid S3 endpoint ${options.endpoint}`, { cause, details: { endpoint: options.endpoint } });
    }
  }
  let client = options.client;
  const owned = !client;
  let conditional: Promise<boolean> | undefined;

  const s3 = () =>
    (client ??= new S3Client({
      region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      ...checksums,
    }));
  const run = <T>(what: string, fn: (c: S3Client) => Promise<T>) => withRetries(policy, logger, what, () => fn(s3()));
  const appKey = (appId: string, rest: string) => `${prefix}${appId}/${rest}`;
  const dataKey = (appId: string, name: string, epoch: number) => appKey(appId, `checkpoints/${name}.e${String(epoch).padStart(10, '0')}`);

  async function getObject(key: string): Promise<{ bytes: Uint8Array } | undefined> {
    try {
      const res = await s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return { bytes: await res.Body!.transformToByteArray() };
    } catch (error) {
      if (httpStatus(error) === 404 || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  /** Whether to send conditional headers: decided once per store by the mode and, for `auto`/`require`, the probe. */
  function conditionalWrites(): Promise<boolean> {
    if (mode === 'off' && !conditional) {
      logger.warn({ bucket }, 'conditionalWrites is off: epoch fencing on S3 is check-then-write, not atomic');
      conditional = Promise.resolve(false);
    }
    return (conditional ??= run('probe conditional writes', async (c) => {
      const key = `${prefix}.microbatch-probe-${randomBytes(8).toString('hex')}`;
      const probe = await probeConditionalWrites(c, bucket, key, owned ? checksums : { injectedClient: true });
      if (probe.honoured) return true;
      const how = probe.refused === undefined ? 'ignores' : 'refuses';
      if (mode === 'require') {
        throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `The S3 server behind bucket ${bucket} ${how} If-None-Match on PUT; conditionalWrites is "require"`, {
          ...(probe.refused === undefined ? {} : { cause: probe.refused }),
          details: { bucket },
        });
      }
      logger.warn({ bucket }, `the S3 server ${how} conditional writes: epoch fencing falls back to check-then-write, not atomic`);
      return false;
    }).catch((error: unknown) => {
      conditional = undefined;
      throw error;
    }));
  }

  const deleteObject = (key: string) => run(`delete ${key}`, (c) => c.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
  const HEAD_KEEP = 16;
  const versionKey = (appId: string, version: number) => appKey(appId, `head/${String(version).padStart(16, '0')}`);

  /** The newest head version (the highest-numbered object under head/). */
  async function readHead(appId: string): Promise<{ head: Head; version: number }> {
    for (let attempt = 0; ; attempt++) {
      const versions = (await listKeys(appKey(appId, 'head/'))).map(Number).filter(Number.isSafeInteger);
      if (versions.length === 0) return { head: EMPTY_HEAD, version: 0 };
      const version = Math.max(...versions);
      const key = versionKey(appId, version);
      const found = await run(`read ${key}`, () => getObject(key));
      if (found) return { head: parseHead(found.bytes, `s3://${bucket}/${key}`), version };
      // Deleted between list and get: only a version far behind the newest is pruned, so list again.
      if (attempt > 5) throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `Head of app ${appId} keeps vanishing`, { details: { key } });
    }
  }

  /** Creates `key` if absent (If-None-Match: *); false when another writer created it first. */
  async function create(key: string, body: string, useConditions: boolean): Promise<boolean> {
    return run(`write ${key}`, (c) =>
      c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json', ...(useConditions ? { IfNoneMatch: '*' } : {}) })).then(
        () => true,
        (error: unknown) => {
          if (isConflict(error)) return false;
          throw error;
        },
      ),
    );
  }

  /**
   * Whether the version just created is part of the chain, and not the re-creation of a version
   * number pruned while this writer was stalled (a zombie). Pruning version n needs version
   * n + HEAD_KEEP to exist; when no such version is listed, the common case, one LIST decides.
   */
  async function onChain(appId: string, version: number, token: string): Promise<boolean> {
    const page = await run(`list ${appKey(appId, 'head/')}`, (c) =>
      c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: appKey(appId, 'head/'), StartAfter: versionKey(appId, version) })),
    );
    const newest = Math.max(version, ...(page.Contents ?? []).map((o) => Number(o.Key!.slice(appKey(appId, 'head/').length))));
    if (newest < version + HEAD_KEEP) return true;
    return (await readHead(appId)).head.history.includes(token);
  }

  /** Per app, the head version this writer created last: the next update starts from it (see updateHead). */
  const lastCreated = new Map<string, { head: Head; version: number }>();

  /**
   * Read-modify-write of the head: `step` gets the newest version and returns the next one and a
   * result, or only a result when nothing needs writing (e.g. a retried request whose first
   * attempt had in fact succeeded); it throws to abort (fencing). Losing the race to create the
   * next version means someone else changed the head first: read again and redo the step.
   *
   * With conditional writes the first try skips the read and starts from the version this writer
   * created last, which is what a writer stalled since its last read would do: if anyone wrote
   * since, the create fails (or onChain refuses a pruned number) and the loop reads. Only a create
   * is ever decided on that guess; a step that returns or throws is decided again on a fresh read.
   */
  async function updateHead<T>(appId: string, step: (head: Head) => { next?: Omit<Head, 'history'>; result: T }): Promise<T> {
    const useConditions = await conditionalWrites();
    let guess = useConditions ? lastCreated.get(appId) : undefined;
    for (let conflicts = 0; ; ) {
      const { head, version } = guess ?? (await readHead(appId));
      let decided: { next?: Omit<Head, 'history'>; result: T } | undefined;
      try {
        decided = step(head);
      } catch (error) {
        if (!guess) throw error;
      }
      const guessed = guess !== undefined;
      guess = undefined;
      if (!decided?.next) {
        if (guessed) continue;
        return decided!.result;
      }
      const { next, result } = decided;
      const token = randomBytes(12).toString('hex');
      const key = versionKey(appId, version + 1);
      const created: Head = { ...next, history: [...head.history, token].slice(-HISTORY_LENGTH) };
      if (await create(key, JSON.stringify(created), useConditions)) {
        if (await onChain(appId, version + 1, token)) {
          lastCreated.set(appId, { head: created, version: version + 1 });
          if (version + 1 > HEAD_KEEP) await deleteObject(versionKey(appId, version + 1 - HEAD_KEEP));
          return result;
        }
        await deleteObject(key);
      }
      lastCreated.delete(appId);
      if (guessed) continue; // a stale guess is not a conflict with another writer
      if (++conflicts > 100) {
        throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `Gave up updating the head of app ${appId} after ${conflicts} conflicts`, {
          details: { appId, bucket },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(5 * 2 ** conflicts, 200)));
    }
  }

  function fenced(appId: string, what: string, epoch: number, current: number): FencedError {
    return new FencedError(`Refused ${what} for app ${appId} from epoch ${epoch}; current epoch is ${current}`, {
      epoch,
      currentEpoch: current,
      details: { appId, bucket, prefix },
    });
  }

  /**
   * Keys under `keyPrefix`, without folder placeholders (keys ending in "/"): S3 consoles create
   * them, and s3proxy's filesystem backend before 4.x lists every directory as one. This store
   * never writes such a key (putBlob refuses one), and deleting a non-empty directory there
   * stalls for 10 s.
   */
  async function listKeys(keyPrefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await run(`list ${keyPrefix}`, (c) =>
        c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, ContinuationToken: token })),
      );
      for (const object of page.Contents ?? []) if (object.Key && !object.Key.endsWith('/')) keys.push(object.Key.slice(keyPrefix.length));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  /** Data objects no head references, from epochs that can no longer commit: zombies' and crashed writers' leftovers. */
  async function sweepUncommitted(appId: string, head: Head): Promise<void> {
    for (const object of await listKeys(appKey(appId, 'checkpoints/'))) {
      const match = /^(.+)\.e(\d{10})$/.exec(object);
      if (!match || Number(match[2]) >= head.epoch || head.checkpoints[match[1]!] === Number(match[2])) continue;
      await deleteObject(appKey(appId, `checkpoints/${object}`));
    }
  }

  return {
    kind: 's3',
    async acquireEpoch(appId) {
      const owner = randomBytes(12).toString('hex');
      const { epoch, head } = await updateHead(appId, (head) => {
        if (head.owner === owner) return { result: { epoch: head.epoch, head } };
        const next: Head = { ...head, epoch: head.epoch + 1, owner };
        return { next, result: { epoch: next.epoch, head: next } };
      });
      await sweepUncommitted(appId, head);
      return epoch;
    },
    async currentEpoch(appId) {
      return (await readHead(appId)).head.epoch;
    },
    async putCheckpoint(appId, name, bytes, epoch) {
      const what = `checkpoint ${name}`;
      // No epoch check before the upload: the commit below checks it atomically, and a refused
      // upload is deleted; a pre-check would cost two requests on every write to save one on a rare one.
      const key = dataKey(appId, name, epoch);
      await run(`write ${key}`, (c) => c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentType: 'application/json' })));
      // The commit point: the head names the checkpoint only if the epoch is still current.
      let refused: FencedError | undefined;
      await updateHead(appId, (head) => {
        if (head.epoch !== epoch) throw (refused = fenced(appId, what, epoch, head.epoch));
        if (head.checkpoints[name] === epoch) return { result: undefined };
        return { next: { ...head, checkpoints: { ...head.checkpoints, [name]: epoch } }, result: undefined };
      }).catch(async (error: unknown) => {
        if (error === refused) await deleteObject(key);
        throw error;
      });
    },
    async listCheckpoints(appId) {
      return Object.keys((await readHead(appId)).head.checkpoints);
    },
    async getCheckpoint(appId, name) {
      const epoch = (await readHead(appId)).head.checkpoints[name];
      if (epoch === undefined) return undefined;
      const key = dataKey(appId, name, epoch);
      return (await run(`read ${key}`, () => getObject(key)))?.bytes;
    },
    async deleteCheckpoint(appId, name) {
      // Unname it first, so the head never points at a missing object.
      const epoch = await updateHead(appId, (head) => {
        const { [name]: gone, ...rest } = head.checkpoints;
        return gone === undefined ? { result: undefined } : { next: { ...head, checkpoints: rest }, result: gone };
      });
      if (epoch !== undefined) await deleteObject(dataKey(appId, name, epoch));
    },
    async putBlob(appId, blobKey, data, epoch) {
      if (blobKey.endsWith('/')) throw invalidOption('blobKey', 'must not end with "/" (a folder placeholder in S3 listings)', blobKey);
      const what = `blob ${blobKey}`;
      const before = (await readHead(appId)).head.epoch;
      if (before !== epoch) throw fenced(appId, what, epoch, before);
      // Buffered: a streamed PutObject needs a known length, and multipart is not worth it for snapshots here.
      const body = await blobToBuffer(data);
      const key = appKey(appId, `blobs/${blobKey}`);
      await run(`write ${key}`, (c) => c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body })));
      // S3 has no multi-object condition: re-check, and take the blob back if the epoch moved meanwhile.
      const after = (await readHead(appId)).head.epoch;
      if (after !== epoch) {
        await deleteObject(key);
        throw fenced(appId, what, epoch, after);
      }
    },
    async getBlob(appId, blobKey) {
      const key = appKey(appId, `blobs/${blobKey}`);
      const found = await run(`read ${key}`, () => getObject(key));
      if (!found) return undefined;
      const bytes = found.bytes;
      return (async function* () {
        yield bytes;
      })();
    },
    listBlobs: (appId) => listKeys(appKey(appId, 'blobs/')),
    async deleteBlob(appId, blobKey) {
      await deleteObject(appKey(appId, `blobs/${blobKey}`));
    },
    async close() {
      if (owned) client?.destroy();
      client = owned ? undefined : client;
    },
  };
}

function checksumSetting(option: string, value: ChecksumSetting | undefined): ChecksumSetting {
  if (value === undefined) return 'WHEN_REQUIRED';
  if (!CHECKSUM_SETTINGS.includes(value)) throw invalidOption(option, 'must be WHEN_REQUIRED or WHEN_SUPPORTED', value);
  return value;
}

function nonNegative(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw invalidOption(option, 'must be a number >= 0', value);
  return value;
}

/** A checkpoint store in an S3 bucket (AWS S3, MinIO, Cloudflare R2, Ceph RGW, s3proxy...). */
export function createS3CheckpointStore(options: S3CheckpointStoreOptions): CheckpointStore {
  const logger = options?.logger ?? createDefaultLogger({ component: 'checkpoint-s3' });
  return createCheckpointStore(createS3CheckpointBackend(options, logger), { ...options, logger });
}
