import { Batch, silentLogger } from '@microbatch/core';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRows, postgresSink, quoteIdent, readCommittedOffsets } from '../src/index.js';
import { spawnChild } from './support/child.js';
import { createPool, databaseUrl, dropAll, randomName } from './support/db.js';

const pool = createPool();
afterAll(() => pool.end());

describe('postgresSink under a real process crash', () => {
  it('a writer SIGKILLed between its data write and COMMIT leaves nothing; the replay writes everything once', async () => {
    const table = randomName();
    const prefix = `${table}_`;
    const appId = randomName('app');
    await pool.query(`CREATE TABLE ${quoteIdent(table)} (k text NOT NULL, v integer NOT NULL)`);
    try {
      const child = spawnChild('./writer-child.ts', [databaseUrl(), table, prefix, appId, '5000']);
      try {
        await child.waitFor((l) => l === 'written 0');
        // While it hangs, its uncommitted rows and marker are invisible to everyone else...
        expect(Number((await pool.query(`SELECT count(*) FROM ${quoteIdent(table)}`)).rows[0].count)).toBe(0);
      } finally {
        await child.kill();
      }
      // ...and after the kill the server rolled them back: no rows, no marker, no offsets.
      expect(Number((await pool.query(`SELECT count(*) FROM ${quoteIdent(table)}`)).rows[0].count)).toBe(0);
      expect((await pool.query(`SELECT * FROM ${quoteIdent(`${prefix}markers`)}`)).rows).toEqual([]);
      expect(await readCommittedOffsets(pool, { appId, outputName: 'events-out', tablePrefix: prefix })).toEqual({});

      // The restarted process (newer epoch) replays the batch from the write-ahead plan.
      const sink = postgresSink<{ k: string; v: number }>({
        pool,
        name: 'events-out',
        tablePrefix: prefix,
        storeOffsets: true,
        write: async (tx, records) => void (await appendRows(tx, records, { table, columns: ['k', 'v'] })),
      });
      const context = { appId, epoch: 2, batchTime: 5000, attempt: 1, outputName: sink.name, offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
      const rows = Array.from({ length: 500 }, (_, i) => ({ k: `k${i}`, v: i }));
      const batch = Batch.fromPartitions(5000, [rows], [[{ source: 's', partition: '0', from: 0, until: 500 }]]);
      await sink.write(batch.bind(context), context);
      await sink.write(batch.bind(context), context);
      await sink.close();
      const written = await pool.query(`SELECT k, v FROM ${quoteIdent(table)} ORDER BY v`);
      expect(written.rows).toEqual(rows);
      expect(await readCommittedOffsets(pool, { appId, outputName: 'events-out', tablePrefix: prefix })).toEqual({ s: { '0': 500 } });
    } finally {
      await dropAll(pool, prefix, table);
    }
  });
});
