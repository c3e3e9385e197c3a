import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { runCli, startCli, waitForOutput, workDir } from './support/cli.js';
import { freshDatabase } from './support/db.js';

describe('two run processes with the same app id', () => {
  it('the older one is fenced as soon as the newer one starts, and the results stay exact', async () => {
    const db = await freshDatabase();
    const cwd = workDir();
    const shape = ['--events', '12000', '--partitions', '4', '--seed', '5'];
    const args = ['run', ...shape, '--sink', db.url, '--app-id', 'twins', '--until-idle', '--batch-interval', '100', '--max-records-per-partition', '150'];
    try {
      const first = startCli(args, { cwd });
      await waitForOutput(first, /batch .* records/);
      const second = startCli(args, { cwd });
      const [firstCode] = (await once(first, 'exit')) as [number];
      const [secondCode] = (await once(second, 'exit')) as [number];
      expect(secondCode, second.output()).toBe(0);
      expect(firstCode, first.output()).toBe(1);
      expect(first.output()).toContain('[FENCED]');
      const verified = await runCli(['verify', ...shape, '--sink', db.url], { cwd });
      expect(verified.code, verified.output).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
