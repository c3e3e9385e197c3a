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
import { Redis } from 'ioredis';
import { checkPersistence, redactUrl } from './persistence.js';
import { withRetries, type RetryPolicy } from './retry.js';
import { FENCED_HSET, FENCED_HSET_SHA } from './scripts.js';

export interface RedisCheckpointStoreOptions extends CheckpointStoreOptions {
  /** An ioredis client to use; the store never closes it. Default: one created from `url`. */
  client?: Redis;
  /** Used when no client is given. Default: `REDIS_URL`, else `redis://127.0.0.1:6379`. */
  url?: string;
  /** Prefix of every key; an app's keys are `<prefix>{<appId>}:...`. Default `microbatch:`. */
  keyPrefix?: string;
  /** Retries of an operation that failed on a connection error before giving up. Default 10. */
  maxRetries?: number;
  /** First backoff delay, doubled on each retry. Default 100 ms. */
  retryDelayMs?: number;
  /** Cap of the backoff delay. Default 2000 ms. */
  maxRetryDelayMs?: number;
}

/*
 * Keys of one app, all with the hash tag {<appId>} so they share a cluster slot:
 *   <prefix>{<appId>}:epoch        INCR counter
 *   <prefix>{<appId>}:checkpoints  hash name -> checkpoint bytes
 *   <prefix>{<appId>}:blobs        hash key -> blob bytes
 */
export function createRedisCheckpointBackend(options: RedisCheckpointStoreOptions = {}, logger: Logger): CheckpointBackend {
  const keyPrefix = options.keyPrefix ?? 'microbatch:';
  if (typeof keyPrefix !== 'string' || /[{}]/.test(keyPrefix)) {
    throw invalidOption('keyPrefix', 'must be a string without "{" or "}" (the app id is the hash tag)', keyPrefix);
  }
  const policy: RetryPolicy = {
    maxRetries: nonNegative('maxRetries', options.maxRetries ?? 10),
    retryDelayMs: nonNegative('retryDelayMs', options.retryDelayMs ?? 100),
    maxRetryDelayMs: nonNegative('maxRetryDelayMs', options.maxRetryDelayMs ?? 2000),
  };
  const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!options.client) {
    try {
      if (!/^rediss?:$/.test(new URL(url).protocol)) throw new Error('protocol must be redis: or rediss:');
    } catch (cause) {
      throw new MicrobatchError('INVALID_URI', `Invalid Redis URL ${redactUrl(url)}`, { cause, details: { url: redactUrl(url) } });
    }
  }
  let client: Redis | undefined = options.client;
  const owned = !options.client;
  let started: Promise<void> | undefined;
  let closed = false;

  /** The client, created on first use; the first use also checks that Redis persists its data. */
  async function redis(): Promise<Redis> {
    if (!client) {
      client = new Redis(url, {
        lazyConnect: true,
        // Commands fail fast while disconnected; withRetries owns the (bounded) retrying.
        maxRetriesPerRequest: 1,
        retryStrategy: (times) => Math.min(policy.retryDelayMs * 2 ** times, policy.maxRetryDelayMs),
        connectTimeout: 5000,
      });
      // Connection errors surface through the commands (and withRetries); the event alone is only noise.
      client.on('error', (error: Error) => logger.debug({ err: error }, 'redis connection error'));
    }
    started ??= checkPersistence(client, logger, url).catch((error: unknown) => {
      started = undefined;
      throw error;
    });
    await started;
    return client;
  }

  const key = (appId: string, part: string) => `${keyPrefix}{${appId}}:${part}`;
  const run = <T>(what: string, fn: (r: Redis) => Promise<T>) => withRetries(policy, what, async () => fn(await redis()));

  async function fencedHset(appId: string, what: string, hash: string, field: string, value: Buffer, epoch: number) {
    const keys = [key(appId, 'epoch'), key(appId, hash)];
    const result = await run(`write ${what} of app ${appId}`, async (r) => {
      try {
        return Number(await r.evalsha(FENCED_HSET_SHA, 2, ...keys, epoch, field, value));
      } catch (error) {
        if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
        return Number(await r.eval(FENCED_HSET, 2, ...keys, epoch, field, value));
      }
    });
    if (result !== -1) {
      throw new FencedError(`Refused ${what} for app ${appId} from epoch ${epoch}; current epoch is ${result}`, {
        epoch,
        currentEpoch: result,
        details: { appId, keyPrefix },
      });
    }
  }

  return {
    kind: 'redis',
    acquireEpoch: (appId) => run(`acquire the epoch of app ${appId}`, (r) => r.incr(key(appId, 'epoch'))),
    currentEpoch: (appId) => run(`read the epoch of app ${appId}`, async (r) => Number((await r.get(key(appId, 'epoch'))) ?? 0)),
    putCheckpoint: (appId, name, bytes, epoch) => fencedHset(appId, `checkpoint ${name}`, 'checkpoints', name, Buffer.from(bytes), epoch),
    listCheckpoints: (appId) => run(`list checkpoints of app ${appId}`, (r) => r.hkeys(key(appId, 'checkpoints'))),
    getCheckpoint: (appId, name) =>
      run(`read checkpoint ${name} of app ${appId}`, async (r) => {
        const bytes = await r.hgetBuffer(key(appId, 'checkpoints'), name);
        return bytes === null ? undefined : new Uint8Array(bytes);
      }),
    deleteCheckpoint: async (appId, name) => {
      await run(`delete checkpoint ${name} of app ${appId}`, (r) => r.hdel(key(appId, 'checkpoints'), name));
    },
    // Blobs are buffered: a Redis value is one string anyway (512 MB at most).
    putBlob: async (appId, blobKey, data, epoch) =>
      fencedHset(appId, `blob ${blobKey}`, 'blobs', blobKey, Buffer.from(await blobToBuffer(data)), epoch),
    getBlob: (appId, blobKey) =>
      run(`read blob ${blobKey} of app ${appId}`, async (r) => {
        const bytes = await r.hgetBuffer(key(appId, 'blobs'), blobKey);
        if (bytes === null) return undefined;
        return (async function* () {
          yield new Uint8Array(bytes);
        })();
      }),
    listBlobs: (appId) => run(`list blobs of app ${appId}`, (r) => r.hkeys(key(appId, 'blobs'))),
    deleteBlob: async (appId, blobKey) => {
      await run(`delete blob ${blobKey} of app ${appId}`, (r) => r.hdel(key(appId, 'blobs'), blobKey));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) client?.disconnect();
    },
  };
}

function nonNegative(option: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw invalidOption(option, 'must be a number >= 0', value);
  return value;
}

/** A checkpoint store in Redis (standalone or cluster), fenced by a Lua script. */
export function createRedisCheckpointStore(options: RedisCheckpointStoreOptions = {}): CheckpointStore {
  const logger = options.logger ?? createDefaultLogger({ component: 'checkpoint-redis' });
  return createCheckpointStore(createRedisCheckpointBackend(options, logger), { ...options, logger });
}
