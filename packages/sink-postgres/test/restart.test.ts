import { Batch, silentLogger } from '@microbatch/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendRows, postgresSink } from '../src/index.js';
import { createPool } from './support/db.js';
import { services, type PrivateService } from './support/services.js';

// A private cluster: this test restarts it, which must never happen to the shared server.
let server: PrivateService;
beforeAll(async () => {
  server = await (await services()).startPrivateService('postgres');
});
afterAll(() => server?.stop());

describe('postgresSink while PostgreSQL restarts', () => {
  it('a restart in the middle of a run is retried through; every row lands exactly once', async () => {
    const pool = createPool(server.url);
    await pool.query('CREATE TABLE events (k text PRIMARY KEY, v integer NOT NULL)');
    let restarting: Promise<void> | undefined;
    const sink = postgresSink<{ k: string; v: number }>({
      pool,
      name: 'events-out',
      retry: { baseDelayMs: 200 },
      async write(tx, records, ctx) {
        await appendRows(tx, records, { table: 'events', columns: ['k', 'v'] });
        // Batch 3's first partition restarts the server between its data write and COMMIT;
        // the other partitions of the batch are in flight at that moment too.
        if (ctx.batchTime === 3000 && ctx.partitionId === 0 && !restarting) {
          restarting = server.restart();
          await restarting;
        }
      },
    });
    const appId = 'restart-app';
    const expected: Array<{ k: string; v: number }> = [];
    const retries: unknown[] = [];
    const logger = { ...silentLogger, warn: (obj: object | string) => void retries.push(obj) };
    try {
      for (let t = 1000; t <= 6000; t += 1000) {
        const partitions = Array.from({ length: 4 }, (_, p) => Array.from({ length: 200 }, (_, i) => ({ k: `${t}/${p}/${i}`, v: i })));
        expected.push(...partitions.flat());
        const context = { appId, epoch: 1, batchTime: t, attempt: 1, outputName: sink.name, offsetRanges: [], signal: new AbortController().signal, logger };
        await sink.write(Batch.fromPartitions(t, partitions).bind(context), context);
      }
      expect(restarting).toBeDefined();
      expect(retries.length).toBeGreaterThan(0); // transactions did fail, and were retried
      // The primary key would have refused a duplicate; the count proves nothing is missing.
      const rows = await pool.query('SELECT k, v FROM events ORDER BY k');
      expect(rows.rows).toEqual(expected.sort((a, b) => (a.k < b.k ? -1 : 1)));
      const markers = await pool.query('SELECT count(*)::int AS n FROM microbatch_markers');
      expect(markers.rows[0].n).toBe(24);
    } finally {
      await sink.close();
      await pool.end();
    }
  });
});
