import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPostgresDatabase, spawnTsChild } from '@microbatch/testkit';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { expectedOutput } from '../src/expected.js';
import { produceEvents } from '../src/produce.js';
import type { RunOptions } from '../src/run.js';
import { verifyTables } from '../src/verify.js';
import { generation, shape } from './params.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const packagesDir = join(here, '../../../packages');
const script = join(here, '../src/run.ts');

describe('crash test: SIGKILL the event-time pipeline repeatedly, restart, verify', () => {
  it('writes each closed window once with the right count and each late event once, and nothing else', async () => {
    const stamp = Math.random().toString(36).slice(2, 10);
    const brokers = process.env.KAFKA_BROKERS!.split(',');
    const topic = `event-time-${stamp}`;
    const db = await freshPostgresDatabase(process.env.DATABASE_URL!, 'event_time');
    const checkpointDir = mkdtempSync(join(tmpdir(), 'event-time-'));
    try {
      await produceEvents(brokers, topic, generation);
      const options: RunOptions = { appId: `et-${stamp}`, brokers, topic, databaseUrl: db.url, checkpointDir, batchIntervalMs: 100, shape };
      const kills = 8;
      let killed = 0;
      for (let k = 0; k < kills; k++) {
        const child = spawnTsChild(script, [JSON.stringify(options)], { packagesDir });
        // A kill after 1-3 completed batches and a random extra moment: inside planning, output or a checkpoint write.
        const batches = 1 + Math.floor(Math.random() * 3);
        const outcome = await Promise.race([
          child.waitFor((line) => line.startsWith('batch ') && child.lines.filter((l) => l.startsWith('batch ')).length >= batches).then(() => 'running' as const),
          child.waitFor((line) => line === 'done').then(() => 'done' as const),
        ]);
        if (outcome === 'done') break;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 60));
        await child.kill();
        killed++;
      }
      const last = spawnTsChild(script, [JSON.stringify(options)], { packagesDir });
      await last.waitFor((line) => line === 'done');
      await last.exited();
      // Each kill interrupted a run that had input left, so crashes really hit the pipeline mid-stream.
      expect(killed).toBe(kills);

      const pool = new pg.Pool({ connectionString: db.url });
      try {
        const expected = expectedOutput(generation, shape);
        const reports = await verifyTables(pool, expected, shape.windowMs);
        for (const report of reports) {
          expect({ table: report.table, missing: report.missing, duplicated: report.duplicated, wrong: report.wrong, unexpected: report.unexpected }).toEqual({
            table: report.table,
            missing: [],
            duplicated: [],
            wrong: [],
            unexpected: [],
          });
          expect(report.expected).toBeGreaterThan(50);
        }
      } finally {
        await pool.end();
      }
    } finally {
      rmSync(checkpointDir, { recursive: true, force: true });
      await db.drop();
    }
  });
});
