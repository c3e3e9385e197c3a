import { describe, expect, it } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { startPrivateService } from '../../../tools/services/src/index.mjs';
import { runCli, startCli, waitForOutput, workDir } from './support/cli.js';
import { freshDatabase } from './support/db.js';

const shape = ['--events', '8000', '--partitions', '4', '--seed', '11'];
const pace = ['--until-idle', '--batch-interval', '100', '--max-records-per-partition', '100'];

describe('services restarted during a run', () => {
  it('PostgreSQL restarted mid-run: the run rides it out and every table is exact', async () => {
    const postgres = await startPrivateService('postgres', { log: () => {} });
    const db = await freshDatabase(postgres.url);
    const cwd = workDir();
    try {
      const run = startCli(['run', ...shape, ...pace, '--sink', db.url], { cwd });
      await waitForOutput(run, /batch .* records/);
      await postgres.restart({ downMs: 1500 });
      const exit = await new Promise<number | null>((resolve) => run.on('exit', resolve));
      expect(exit, run.output()).toBe(0);
      const verified = await runCli(['verify', ...shape, '--sink', db.url], { cwd });
      expect(verified.code, verified.output).toBe(0);
    } finally {
      await postgres.stop();
    }
  });

  it('Kafka restarted mid-run: the run rides it out and every table is exact', async () => {
    const kafka = await startPrivateService('kafka', { log: () => {} });
    const brokers = kafka.url.replace(/^[a-z]+:\/\//, '');
    const db = await freshDatabase();
    const cwd = workDir();
    try {
      const produced = await runCli(['produce', '--brokers', brokers, '--topic', 'restart-events', ...shape], { cwd });
      expect(produced.code, produced.output).toBe(0);
      const run = startCli(['run', '--source', 'kafka', '--brokers', brokers, '--topic', 'restart-events', ...shape, ...pace, '--sink', db.url], { cwd });
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
