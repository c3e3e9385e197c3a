import { Batch, isMicrobatchError, silentLogger } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { appendRows, postgresSink, toDatabase } from '../src/index.js';
import { databaseUrl, randomName } from './support/db.js';

describe('database inputs', () => {
  it('a pglite:memory URI gives a zero-setup embedded database the sink owns', async () => {
    const db = await toDatabase('pglite:memory');
    expect(db.driver).toBe('pglite');
    await db.query('CREATE TABLE events (k text PRIMARY KEY)');
    const sink = postgresSink<{ k: string }>({ pool: db, name: 'out', write: async (tx, records) => void (await appendRows(tx, records, { table: 'events', columns: ['k'] })) });
    const context = { appId: 'zero-setup', epoch: 1, batchTime: 1000, attempt: 1, outputName: 'out', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
    const batch = Batch.fromPartitions(1000, [[{ k: 'a' }], [{ k: 'b' }]]);
    await sink.write(batch.bind(context), context);
    await sink.write(batch.bind(context), context);
    expect((await db.query('SELECT k FROM events ORDER BY k')).rows).toEqual([{ k: 'a' }, { k: 'b' }]);
    await sink.close();
    await db.close();
    await db.close();
  });

  it('a postgres:// URI makes a pool that close() ends', async () => {
    const db = await toDatabase(databaseUrl());
    expect(db.driver).toBe('pg');
    const table = randomName();
    await db.transaction(async (tx) => {
      await tx.query(`CREATE TEMP TABLE ${table} (n int)`);
      await tx.query(`INSERT INTO ${table} VALUES (1)`);
      expect((await tx.query<{ n: number }>(`SELECT n FROM ${table}`)).rows).toEqual([{ n: 1 }]);
    });
    await db.close();
    await expect(db.query('SELECT 1')).rejects.toThrow();
  });

  it('refuses other URIs with INVALID_URI, without echoing a password', async () => {
    const error = await toDatabase('mysql://user:secret@host/db').catch((e: unknown) => e);
    expect(isMicrobatchError(error, 'INVALID_URI')).toBe(true);
    expect((error as Error).message).not.toContain('secret');
  });

  it('refuses a missing pool or bad options with INVALID_OPTION', () => {
    const bad = (options: object) => {
      try {
        postgresSink({ name: 'x', pool: 'pglite:memory', write: async () => {}, ...options } as never);
        return false;
      } catch (error) {
        return isMicrobatchError(error, 'INVALID_OPTION');
      }
    };
    expect(bad({ pool: undefined })).toBe(true);
    expect(bad({ name: '' })).toBe(true);
    expect(bad({ write: 'nope' })).toBe(true);
    expect(bad({ granularity: 'row' })).toBe(true);
    expect(bad({ tablePrefix: 'bad-prefix;' })).toBe(true);
  });
});
