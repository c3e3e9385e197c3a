// Scenario 4: checkpoint write/read latency (p50, p99) and size for fs, Redis and S3 with 64 and
// 1024 partitions (testkit's benchmarkCheckpointStore, which the stores' own benches use too),
// against the raw client writing and reading the same bytes with no protocol around them; and the
// size of the checkpoints a real engine run writes, for few and many records.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { createRedisCheckpointStore } from '@microbatch/checkpoint-redis';
import { createS3CheckpointStore } from '@microbatch/checkpoint-s3';
import { StreamingContext, createMemoryCheckpointStore, createVirtualClock, encodeCheckpoint, silentLogger, type CheckpointStore } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';
import { benchCheckpoint, benchmarkCheckpointStore, type CheckpointLatency } from '@microbatch/testkit';
import { Redis } from 'ioredis';
import { percentile } from '../events.ts';

export type StoreKind = 'fs' | 'redis' | 's3';

export interface StoreArgs {
  readonly store: StoreKind;
  readonly partitions: readonly number[];
  readonly iterations: number;
}

export interface RawLatency {
  readonly partitions: number;
  readonly write: { readonly p50: number; readonly p99: number };
  readonly read: { readonly p50: number; readonly p99: number };
}

export interface StoreResult {
  readonly store: StoreKind;
  readonly project: readonly CheckpointLatency[];
  readonly raw: readonly RawLatency[];
  /** S3: requests per checkpoint write, by command (steady state, after retention kicks in). */
  readonly requestsPerWrite?: Record<string, number>;
}

/** A raw client: put and get of opaque bytes under a key, the least any store must do. */
interface RawClient {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<unknown>;
}

interface Opened {
  readonly store: CheckpointStore;
  /** S3 only: requests sent by the store, per command, since the last reset. */
  readonly requests?: Record<string, number>;
  readonly raw: RawClient;
  close(): Promise<void>;
}

function s3Env() {
  process.env.AWS_ACCESS_KEY_ID ??= 'microbatch-local';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'microbatch-local-secret';
  process.env.AWS_REGION ??= 'us-east-1';
}

async function openStore(kind: StoreKind): Promise<Opened> {
  const tag = randomBytes(5).toString('hex');
  if (kind === 'fs') {
    const dir = mkdtempSync(join(tmpdir(), 'microbatch-bench-cp-'));
    // Temporary file, fsync, rename: the minimum for an atomic durable file.
    const raw: RawClient = {
      async put(key, bytes) {
        const path = join(dir, `raw-${key}`);
        const handle = await open(`${path}.tmp`, 'w');
        await handle.writeFile(bytes);
        await handle.sync();
        await handle.close();
        await rename(`${path}.tmp`, path);
      },
      get: (key) => readFile(join(dir, `raw-${key}`)),
    };
    const store = createFsCheckpointStore({ dir: join(dir, 'store'), logger: silentLogger });
    return { store, raw, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
  }
  if (kind === 'redis') {
    const url = process.env.REDIS_URL!;
    const prefix = `mbbench:${tag}:`;
    const client = new Redis(url);
    const raw: RawClient = { put: async (key, bytes) => void (await client.set(`${prefix}raw:${key}`, Buffer.from(bytes))), get: (key) => client.getBuffer(`${prefix}raw:${key}`) };
    const store = createRedisCheckpointStore({ url, keyPrefix: prefix, logger: silentLogger });
    return {
      store,
      raw,
      close: async () => {
        await store.close();
        // Only this run's keys: the shared Redis is never flushed.
        const keys = await client.keys(`${prefix}*`);
        if (keys.length > 0) await client.del(...keys);
        client.disconnect();
      },
    };
  }
  s3Env();
  const endpoint = process.env.S3_ENDPOINT!;
  const client = new S3Client({ endpoint, forcePathStyle: true });
  const bucket = `mbbench-${tag}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const raw: RawClient = {
    put: async (key, bytes) => void (await client.send(new PutObjectCommand({ Bucket: bucket, Key: `raw/${key}`, Body: bytes }))),
    get: async (key) => (await client.send(new GetObjectCommand({ Bucket: bucket, Key: `raw/${key}` }))).Body!.transformToByteArray(),
  };
  // The store gets its own client with a counting middleware: its latency is mostly round trips.
  const requests: Record<string, number> = {};
  const storeClient = new S3Client({ endpoint, forcePathStyle: true });
  storeClient.middlewareStack.add(
    (next, context) => async (input) => {
      requests[context.commandName ?? '?'] = (requests[context.commandName ?? '?'] ?? 0) + 1;
      return next(input);
    },
    { step: 'initialize' },
  );
  const store = createS3CheckpointStore({ bucket, client: storeClient, logger: silentLogger });
  return {
    store,
    raw,
    requests,
    close: async () => {
      await store.close();
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? []) await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
      storeClient.destroy();
    },
  };
}

async function rawLatency(raw: RawClient, partitions: number, iterations: number): Promise<RawLatency> {
  const writes: number[] = [];
  const reads: number[] = [];
  for (let seq = 1; seq <= iterations + 20; seq++) {
    const bytes = encodeCheckpoint(benchCheckpoint('raw', 1, seq, partitions));
    const start = performance.now();
    await raw.put(`cp-${seq % 10}`, bytes);
    if (seq > 20) writes.push(performance.now() - start);
  }
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await raw.get(`cp-${i % 10}`);
    reads.push(performance.now() - start);
  }
  const summary = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99) });
  return { partitions, write: summary(writes), read: summary(reads) };
}

/** Store and raw client alternate per partition count, so drift hits both alike. */
async function checkpointStore(args: StoreArgs): Promise<StoreResult> {
  const opened = await openStore(args.store);
  try {
    const project: CheckpointLatency[] = [];
    const raw: RawLatency[] = [];
    for (const partitions of args.partitions) {
      raw.push(await rawLatency(opened.raw, partitions, args.iterations));
      project.push(await benchmarkCheckpointStore(opened.store, { partitions, iterations: args.iterations }));
    }
    let requestsPerWrite: Record<string, number> | undefined;
    if (opened.requests) {
      const appId = `bench-count-${randomBytes(3).toString('hex')}`;
      const epoch = await opened.store.acquireEpoch(appId);
      for (let seq = 1; seq <= 15; seq++) await opened.store.write(benchCheckpoint(appId, epoch, seq, 64));
      for (const key of Object.keys(opened.requests)) delete opened.requests[key];
      for (let seq = 16; seq <= 25; seq++) await opened.store.write(benchCheckpoint(appId, epoch, seq, 64));
      requestsPerWrite = Object.fromEntries(Object.entries(opened.requests).map(([k, v]) => [k, v / 10]));
    }
    return { store: args.store, project, raw, ...(requestsPerWrite ? { requestsPerWrite } : {}) };
  } finally {
    await opened.close();
  }
}

export interface SizeArgs {
  readonly partitions: number;
  readonly recordsPerPartition: number;
}

/** The largest checkpoint a real run writes (4 batches over the generator), in bytes. */
async function checkpointSize(args: SizeArgs): Promise<{ partitions: number; records: number; bytes: number }> {
  const inner = createMemoryCheckpointStore();
  let bytes = 0;
  const store: CheckpointStore = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'write') {
        return async (checkpoint: Parameters<CheckpointStore['write']>[0]) => {
          bytes = Math.max(bytes, encodeCheckpoint(checkpoint).length);
          return target.write(checkpoint);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  const ssc = new StreamingContext({
    appId: 'bench-size',
    batchIntervalMs: 1000,
    checkpoint: store,
    clock: createVirtualClock(1_000_000),
    maxRecordsPerPartition: Math.ceil(args.recordsPerPartition / 4),
    stopWhenIdle: true,
    stopOnSignals: false,
    logger: silentLogger,
  });
  ssc
    .source(createGeneratorSource({ name: 'events', partitions: args.partitions, recordsPerPartition: args.recordsPerPartition, generate: ({ offset }) => offset }))
    .foreachBatch(async (batch) => void (await batch.count()), { name: 'discard' });
  await ssc.start();
  await ssc.awaitTermination();
  return { partitions: args.partitions, records: args.partitions * args.recordsPerPartition, bytes };
}

export const checkpointTasks = { 'checkpoint-store': checkpointStore, 'checkpoint-size': checkpointSize };
