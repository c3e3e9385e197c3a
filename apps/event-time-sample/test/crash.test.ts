import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPostgresDatabase, killLoop, planKills, seededRandom, tsChildCommand } from '@microbatch/testkit';
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
      // Ten starts, each SIGKILLing itself at a protocol point in turn (planning, output in
      // progress, between output and checkpoint, during a checkpoint write, plan durable), then a
      // start that runs to the end: testkit's kill loop, as microbatch-verify aims its kills.
      const kills = 10;
      const plan = planKills(kills, seededRandom(Math.floor(Math.random() * 2 ** 31)));
      const outcome = await killLoop(
        { app: tsChildCommand(script, [JSON.stringify(options)], { packagesDir }), cwd: checkpointDir, processTimeoutMs: 120_000 },
        // The app stops by itself after enough idle batches for the idle rule to close its windows.
        { env: {}, plan, dir: join(checkpointDir, 'kills'), stopWhenIdle: false },
      );
      // Every kill landed in a run that still had input, at the point it was aimed at.
      expect(outcome.finishedEarly).toBe(false);
      expect(outcome.landed.map((k) => k.point)).toEqual(plan.map((k) => k.point));

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
