import { describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { checkpointStores } from './support/checkpoints.js';
import { freshDatabase } from './support/db.js';

const shape = ['--events', '3000', '--partitions', '4', '--seed', '3'];

function expectExactlyOnce(result: { code: number | null; output: string }): void {
  expect(result.output).toContain('VERDICT: exactly once');
  expect(result.code, result.output).toBe(0);
  for (const table of ['events_raw', 'page_views', 'user_totals', 'events_rejected']) {
    expect(result.output).toMatch(new RegExp(`${table}\\s+0 missing, 0 duplicated, 0 wrong`));
  }
  // Every phase of a batch was hit by at least one kill.
  expect(result.output).toMatch(/phases hit: planning [1-9]\d*, output [1-9]\d*, between-output-and-checkpoint [1-9]\d*/);
}

describe('crash test: SIGKILL in every phase of a batch, restart, verify', () => {
  it('on the defaults: generator, fs checkpoints, PGlite', async () => {
    expectExactlyOnce(await runCli(['crash-test', '--kills', '6', ...shape]));
  });

  const kafkaCase = (label: string, checkpoint: () => Promise<string>) =>
    it(`Kafka source, Postgres sink, ${label} checkpoints`, async () => {
      const db = await freshDatabase();
      try {
        const result = await runCli([
          'crash-test', '--kills', '6', ...shape, '--source', 'kafka', '--brokers', process.env.KAFKA_BROKERS!,
          '--checkpoint', await checkpoint(), '--sink', db.url,
        ]);
        expectExactlyOnce(result);
      } finally {
        await db.drop();
      }
    });

  for (const [label, checkpoint] of checkpointStores) kafkaCase(label, checkpoint);
});
