#!/usr/bin/env node
// Runs every package's tests through turbo, then prints one total over all packages'
// vitest JSON reports: "N passed, N failed, N skipped". Skipped tests are never counted as passed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reports = join(root, '.test-results');
rmSync(reports, { recursive: true, force: true });

const turbo = spawnSync('turbo', ['run', 'test', '--concurrency=1', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });

let passed = 0;
let failed = 0;
let skipped = 0;
const perPackage = [];
for (const file of existsSync(reports) ? readdirSync(reports).sort() : []) {
  const report = JSON.parse(readFileSync(join(reports, file), 'utf8'));
  const p = report.numPassedTests ?? 0;
  const f = (report.numFailedTests ?? 0) + (report.numFailedTestSuites ?? 0);
  const s = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  perPackage.push(`  ${file.replace(/\.json$/, '').padEnd(32)} ${String(p).padStart(4)} passed ${String(f).padStart(3)} failed ${String(s).padStart(3)} skipped`);
  passed += p;
  failed += f;
  skipped += s;
}
process.stdout.write(`\nTest totals by package:\n${perPackage.join('\n')}\n`);
if (turbo.status !== 0 && failed === 0) failed = 1; // a package that crashed before reporting still fails the run
process.stdout.write(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(turbo.status === 0 && failed === 0 ? 0 : 1);
