import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
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

describe('observability of a run', () => {
  it('on a terminal, run keeps one live status line (batch, rate, lag) instead of a line per batch', async () => {
    const cwd = workDir();
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    // util-linux `script` gives the command a real pseudo-terminal.
    const command = [process.execPath, '--import', tsx, main, 'run', '--events', '2000', '--partitions', '2', '--batch-interval', '50', '--max-records-per-partition', '200', '--until-idle']
      .map((a) => `'${a}'`)
      .join(' ');
    const out = execFileSync('script', ['-q', '-e', '-c', command, '/dev/null'], { cwd, encoding: 'utf8' });
    expect(out).toMatch(/\r\x1b\[2Kbatch \d\d:\d\d:\d\d\.\d{3}  [\d,]+ records  [\d,]+ rec\/s  lag [\d,]+/);
    // No line per batch: every status line is rewritten in place (starts with \r), none starts a fresh line.
    expect(out).not.toMatch(/(^|\n)batch \d\d:/);
    expect(out).toContain('events stored');
  });

  it('--http-port serves the dashboard and Prometheus metrics; SIGTERM stops gracefully with a summary', async () => {
    const cwd = workDir();
    const run = startCli(['run', '--events', '20000', '--partitions', '4', '--batch-interval', '100', '--max-records-per-partition', '100', '--http-port', '0'], { cwd });
    await waitForOutput(run, /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/);
    const url = /dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(run.output())![1]!;
    await waitForOutput(run, /batch .* records/);
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const metrics = await (await fetch(`${url}metrics`)).text();
    expect(metrics).toMatch(/microbatch_batches_completed_total(\{[^}]*\})? [1-9]/);
    expect(metrics).toContain('microbatch_source_lag_records{');
    run.kill('SIGTERM');
    const [code] = (await once(run, 'exit')) as [number];
    expect(code, run.output()).toBe(0);
    expect(run.output()).toContain('events stored');
  });
});
