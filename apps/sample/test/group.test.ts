import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runCli, workDir } from './support/cli.js';
import { checkpointStores } from './support/checkpoints.js';
import { freshDatabase } from './support/db.js';

const shape = ['--events', '6000', '--partitions', '4', '--seed', '7'];
const brokers = () => process.env.KAFKA_BROKERS!.replace(/^[a-z]+:\/\//, '');

describe('the application as a group of member processes', () => {
  it('run --workers 2 over Kafka: the members share the tasks and every table is exact', async () => {
    const db = await freshDatabase();
    const cwd = workDir();
    const topic = `group-${randomBytes(4).toString('hex')}`;
    try {
      const produced = await runCli(['produce', '--brokers', brokers(), '--topic', topic, ...shape], { cwd });
      expect(produced.code, produced.output).toBe(0);
      const ran = await runCli(
        ['run', '--source', 'kafka', '--brokers', brokers(), '--topic', topic, ...shape, '--sink', db.url, '--app-id', `g-${topic}`, '--workers', '2',
          '--until-idle', '--batch-interval', '100', '--max-records-per-partition', '200', '--session-timeout', '6000'],
        { cwd },
      );
      expect(ran.code, ran.output).toBe(0);
      expect(ran.output).toContain('all 2 members finished');
      // Both members ran tasks, each task's batches under its own task number.
      for (const w of ['w0', 'w1']) expect(ran.output, w).toMatch(new RegExp(`\\[${w}\\] task \\d started`));
      const ranTasks = new Set([...ran.output.matchAll(/\] task (\d)  batch /g)].map((m) => m[1]));
      expect([...ranTasks].sort()).toEqual(['0', '1', '2', '3']);
      const verified = await runCli(['verify', ...shape, '--sink', db.url], { cwd });
      expect(verified.code, verified.output).toBe(0);
    } finally {
      await db.drop();
    }
  });

  // Every checkpoint store under the group's kill schedule: each task's epoch, checkpoints and
  // fencing live in the store under the task's own namespace.
  for (const [label, checkpoint] of checkpointStores) {
    it(`crash-test --processes 3, ${label} checkpoints: members SIGKILLed, replaced by more or fewer, one stalled past its session timeout; exactly once`, async () => {
      const db = await freshDatabase();
      try {
        const result = await runCli([
          'crash-test', '--processes', '3', '--kills', '3', ...shape, '--source', 'kafka', '--brokers', brokers(), '--sink', db.url,
          '--checkpoint', await checkpoint(), '--session-timeout', '6000',
        ]);
        expect(result.output).toContain('VERDICT: exactly once');
        expect(result.code, result.output).toBe(0);
        for (const table of ['events_raw', 'page_views', 'user_totals', 'events_rejected']) {
          expect(result.output).toMatch(new RegExp(`${table}\\s+0 missing, 0 duplicated, 0 wrong`));
        }
        expect(result.output).toMatch(/SIGSTOP m\d+ for \d+ ms/);
        expect(result.output).toMatch(/kill 3\/3: SIGKILL m\d+/);
      } finally {
        await db.drop();
      }
    });
  }
});
