import { Batch, silentLogger } from '@microbatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromPool, type Database } from '@microbatch/sink-postgres';
import { spawnChild } from '../../sink-postgres/test/support/child.js';
import { services, type PrivateService } from '../../sink-postgres/test/support/services.js';
import { lastPerKey, postgresUpsert, upsertSink } from '../src/index.js';
import { CHILD_CHUNKS_BEFORE_KILL, CHILD_CHUNK_SIZE, bigBatch } from './big-batch.js';
import { createPool, randomName } from './support.js';

const context = { appId: 'failures', epoch: 1, batchTime: 1000, attempt: 1, outputName: 'totals', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
const expected = () => lastPerKey(bigBatch().flat(), (r) => r.key).sort((a, b) => (a.key < b.key ? -1 : 1));

describe('upsert into Postgres under failures', () => {
  const shared = createPool();
  let server: PrivateService;
  beforeAll(async () => {
    // A private cluster: this file restarts it, which must never happen to the shared server.
    server = await (await services()).startPrivateService('postgres');
  });
  afterAll(async () => {
    await shared.end();
    await server?.stop();
  });

  it('a writer SIGKILLed mid-batch leaves part of it; the replay (a newer epoch) makes the table equal one clean write', async () => {
    const table = randomName();
    const appId = randomName('app');
    await shared.query(`CREATE TABLE ${table} (key text PRIMARY KEY, total int NOT NULL)`);
    try {
      const child = spawnChild(new URL('../../sink-upsert/test/upsert-child.ts', import.meta.url), [process.env.DATABASE_URL!, table, appId]);
      try {
        await child.waitFor((l) => l === 'stalled');
      } finally {
        await child.kill();
      }
      // The crash did cut the batch short: exactly the committed chunks are there, the rest is not.
      const partial = Number((await shared.query(`SELECT count(*) FROM ${table}`)).rows[0].count);
      expect(partial).toBe(CHILD_CHUNK_SIZE * CHILD_CHUNKS_BEFORE_KILL);
      expect(partial).toBeLessThan(expected().length);
      const sink = upsertSink({ name: 'totals', target: postgresUpsert({ pool: shared, table, keys: ['key'], columns: ['key', 'total'] }) });
      const replay = { ...context, appId, epoch: 2 };
      await sink.write(Batch.fromPartitions(1000, bigBatch()).bind(replay), replay);
      await sink.close();
      expect((await shared.query(`SELECT key, total FROM ${table} ORDER BY key`)).rows).toEqual(expected());
    } finally {
      await shared.query(`DROP TABLE ${table}`);
    }
  });

  it('PostgreSQL restarting in the middle of a batch is retried through', async () => {
    const pool = createPool(server.url);
    await pool.query('CREATE TABLE totals (key text PRIMARY KEY, total int NOT NULL)');
    let restarting: Promise<void> | undefined;
    const real = fromPool(pool);
    // The real database; the restart begins once the first chunk's upsert ran, before its COMMIT.
    const restartsMidChunk: Database = {
      ...real,
      transaction: (fn) =>
        real.transaction((tx) =>
          fn({
            ...tx,
            async query<R>(text: string, params?: readonly unknown[]) {
              const result = await tx.query<R>(text, params);
              if (text.includes('unnest(') && !restarting) restarting = server.restart();
              return result;
            },
          }),
        ),
    };
    const sink = upsertSink({
      name: 'totals',
      target: postgresUpsert({
        pool: restartsMidChunk,
        table: 'totals',
        keys: ['key'],
        columns: ['key', 'total'],
        chunkSize: 2000,
        concurrency: 1,
        retry: { baseDelayMs: 200 },
      }),
    });
    const retries: unknown[] = [];
    const logger = { ...silentLogger, warn: (obj: object | string) => void retries.push(obj) };
    try {
      await sink.write(Batch.fromPartitions(1000, bigBatch()).bind({ ...context, logger }), { ...context, logger });
      expect(restarting).toBeDefined();
      expect(retries.length).toBeGreaterThan(0); // statements did fail, and were retried
      await restarting;
      expect((await pool.query('SELECT key, total FROM totals ORDER BY key')).rows).toEqual(expected());
    } finally {
      await sink.close();
      await pool.end();
    }
  });
});
