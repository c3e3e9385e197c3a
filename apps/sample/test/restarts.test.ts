import { once } from 'node:events';
import { describe, expect, it, type ExpectStatic } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { startPrivateService } from '../../../tools/services/src/index.mjs';
import { runCli, startCli, waitForOutput, workDir } from './support/cli.js';
import { freshDatabase } from './support/db.js';

const shape = ['--events', '8000', '--partitions', '4', '--seed', '11'];
const pace = ['--batch-interval', '100', '--max-records-per-partition', '100'];
/**
 * Longer than the sinks' own retries plus four batch attempts (about 20-50 s): only the context's
 * retryTimeoutMs (default 5 min) keeps a batch going through an outage this long.
 */
const OUTAGE_MS = 30_000;
/** A progress line of a batch that found no new input ("batch 12:00:01.200  0 records ..."). */
const IDLE_BATCH = /batch \S+ {2}0 records/;
type Cli = ReturnType<typeof startCli>;

describe('services restarted during a run', () => {
  /**
   * Runs the sample into a private PostgreSQL, lets `outage` take it down while the run goes on,
   * then expects a clean exit and exact tables. The two outage tests run side by side (each has its
   * own private server and mostly waits out the outage), which saves one outage's time in CI.
   */
  async function throughOutage(expect: ExpectStatic, runArgs: readonly string[], outage: (run: Cli, postgres: { restart(o: { downMs: number }): Promise<void> }) => Promise<void>) {
    const postgres = await startPrivateService('postgres', { log: () => {} });
    const db = await freshDatabase(postgres.url);
    const cwd = workDir();
    const run = startCli(['run', ...shape, ...pace, ...runArgs, '--sink', db.url], { cwd });
    try {
      await outage(run, postgres);
      const [exit] = (await once(run, 'exit')) as [number | null];
      expect(exit, run.output()).toBe(0);
      const verified = await runCli(['verify', ...shape, '--sink', db.url], { cwd });
      expect(verified.code, verified.output).toBe(0);
    } finally {
      run.kill('SIGKILL'); // a no-op once it exited; never left running after a failed assertion
      await postgres.stop();
    }
  }

  it.concurrent('PostgreSQL down for 30 s while the run is working: it rides the outage out and every table is exact', async ({ expect }) => {
    await throughOutage(expect, ['--until-idle'], async (run, postgres) => {
      await waitForOutput(run, /batch .* records/);
      await postgres.restart({ downMs: OUTAGE_MS });
    });
  });

  it.concurrent('PostgreSQL down for 30 s while the run is idle: it keeps running, goes on after, and every table is exact', async ({ expect }) => {
    // No --until-idle: the run keeps planning (empty) batches, as a service waiting for input does.
    await throughOutage(expect, [], async (run, postgres) => {
      await waitForOutput(run, IDLE_BATCH);
      await postgres.restart({ downMs: OUTAGE_MS });
      // Batches complete again once the server is back...
      await waitForOutput(run, IDLE_BATCH, { after: run.output().length });
      // ...and the run still stops gracefully on SIGTERM.
      run.kill('SIGTERM');
    });
  });

  it('Kafka restarted mid-run: the run rides it out and every table is exact', async () => {
    const kafka = await startPrivateService('kafka', { log: () => {} });
    const brokers = kafka.url.replace(/^[a-z]+:\/\//, '');
    const db = await freshDatabase();
    const cwd = workDir();
    try {
      const produced = await runCli(['produce', '--brokers', brokers, '--topic', 'restart-events', ...shape], { cwd });
      expect(produced.code, produced.output).toBe(0);
      const run = startCli(['run', '--source', 'kafka', '--brokers', brokers, '--topic', 'restart-events', ...shape, ...pace, '--until-idle', '--sink', db.url], { cwd });
      await waitForOutput(run, /batch .* records/);
      await kafka.restart({ downMs: 1500 });
      const exit = await new Promise<number | null>((resolve) => run.on('exit', resolve));
      expect(exit, run.output()).toBe(0);
      const verified = await runCli(['verify', ...shape, '--sink', db.url], { cwd });
      expect(verified.code, verified.output).toBe(0);
    } finally {
      await db.drop();
      await kafka.stop();
    }
  });
});
