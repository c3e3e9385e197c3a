// The quick harness end to end on its cheapest scenario: a well-formed result file. Figures are
// not checked — benchmarks are not tests, and this machine's timings mean nothing.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';

const out = mkdtempSync(join(tmpdir(), 'microbatch-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test('pnpm bench --quick --only 1 writes a result file with both sides measured', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/main.ts', '--quick', '--only', '1', '--out', out], {
    cwd: join(import.meta.dirname, '..'),
  });
  const files = readdirSync(out);
  expect(files).toHaveLength(1);
  expect(files[0]).toMatch(/^\d{4}-\d{2}-\d{2}-\w+-quick-only-1\.json$/);
  const run = JSON.parse(readFileSync(join(out, files[0]!), 'utf8'));
  expect(run.mode).toBe('quick');
  expect(run.machine.cpus).toBeGreaterThan(0);
  expect(run.scenarios).toHaveLength(1);
  const [scenario] = run.scenarios;
  expect(scenario.error).toBeUndefined();
  expect(scenario.id).toBe('1');
  // Both sides ran in their own process and reported their peak RSS; both processed every record.
  expect(scenario.peakRssMB.project).toBeGreaterThan(0);
  expect(scenario.peakRssMB.baseline).toBeGreaterThan(0);
  expect(scenario.details.engine.result.records).toBe(1_000_000);
  expect(scenario.details.loop.result.records).toBe(1_000_000);
  expect(scenario.details.engine.result.checksum).toBe(scenario.details.loop.result.checksum);
  expect(Number.isFinite(scenario.ratio)).toBe(true);
  expect(stdout).toContain('| 1 | engine overhead');
});
