import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KILL_POINTS, postgresSnapshot, verifyPipeline } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { brokers, exampleApp, inputFile, runCli, shellLine } from './support.js';

const databaseUrl = () => process.env.DATABASE_URL!;
const generator = fileURLToPath(new URL('../src/input-generator.ts', import.meta.url));
const tmp = () => mkdtempSync(join(tmpdir(), 'verify-examples-'));

describe('microbatch-verify on real apps (Kafka, PostgreSQL, SIGKILL)', () => {
  it('proves the correct app, Kafka to PostgreSQL with updateStateByKey, under 10 kills at every protocol point', async () => {
    const lines: string[] = [];
    const report = await verifyPipeline({
      app: exampleApp('kafka-to-postgres'),
      input: { brokers: brokers(), generator, partitions: 4 },
      snapshot: postgresSnapshot({
        url: databaseUrl(),
        // batch_time is when a total was written (wall-clock batch times): not part of the result.
        query: `SELECT 'event' AS kind, id AS key, user_id, amount::text AS amount, NULL AS events FROM {target}_events
                UNION ALL SELECT 'total', user_id, user_id, amount::text, events::text FROM {target}_totals`,
      }),
      key: ['kind', 'key'],
      kills: 10,
      write: (line) => lines.push(line),
    });
    expect(report.text).toContain('VERDICT: OK');
    expect(report.ok).toBe(true);
    expect(report.kills).toHaveLength(10);
    expect(new Set(report.kills.map((k) => k.point))).toEqual(new Set(KILL_POINTS.map((p) => p.point)));
    expect(report.diff?.rowsA).toBe(2000 + 50);
    expect(report.diff?.rowsB).toBe(2000 + 50);
    expect(report.findings).toEqual([]);
    expect(lines.filter((l) => l.includes('SIGKILL'))).toHaveLength(10);
  });

  it('group mode: 2 static members, killed at the protocol points and replaced, give the same tables as an uninterrupted group', async () => {
    const lines: string[] = [];
    const report = await verifyPipeline({
      app: exampleApp('kafka-to-postgres'),
      input: { brokers: brokers(), generator, partitions: 4 },
      env: { VERIFY_EXAMPLE_TASKS: '4' },
      snapshot: postgresSnapshot({
        url: databaseUrl(),
        query: `SELECT 'event' AS kind, id AS key, user_id, amount::text AS amount, NULL AS events FROM {target}_events
                UNION ALL SELECT 'total', user_id, user_id, amount::text, events::text FROM {target}_totals`,
      }),
      key: ['kind', 'key'],
      members: 2,
      kills: 5,
      write: (line) => lines.push(line),
    });
    expect(report.text).toContain('VERDICT: OK');
    expect(report.kills).toHaveLength(5);
    expect(new Set(report.kills.map((k) => k.member)).size).toBeGreaterThan(1);
    expect(report.diff?.rowsB).toBe(2000 + 50);
    expect(lines.filter((l) => /SIGKILL m\d+ .* joins in slot [01]/.test(l))).toHaveLength(5);
  });

  it('catches the app that stamps Date.now() into its output, naming the output and the cause (CLI)', async () => {
    const dir = tmp();
    const { code, stdout } = await runCli([
      '--app', shellLine(exampleApp('clock-stamp')),
      '--input-file', inputFile(join(dir, 'input.jsonl'), 400),
      '--brokers', brokers().join(','),
      '--snapshot-sql', 'SELECT id, user_id, amount, seen_at FROM {target}_events',
      '--database-url', databaseUrl(),
      '--key', 'id',
      '--kills', '3',
      '--work-dir', dir,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/changed \(\d+\):\n {2}id="e\d+": seen_at "\d+" -> "\d+"/);
    expect(stdout).toContain('CAUSE: output "events" is fed by nondeterministic user code');
    expect(stdout).toContain('Date.now()');
    expect(stdout).toMatch(/VERDICT: FAILED: .*likely cause: output "events" computes different contents from the same input/);
  });

  it('catches the app that appends with no marker: duplicated rows, and the foreachBatch output named as the cause', async () => {
    const dir = tmp();
    const report = await verifyPipeline({
      app: exampleApp('append-no-marker'),
      input: { brokers: brokers(), file: inputFile(join(dir, 'input.jsonl'), 400), partitions: 2 },
      snapshot: postgresSnapshot({ url: databaseUrl(), query: 'SELECT id, user_id, amount FROM {target}_events' }),
      key: ['id'],
      kills: 5,
      workDir: dir,
    });
    expect(report.ok).toBe(false);
    expect(report.diff!.duplicated.length).toBeGreaterThan(0);
    expect(report.diff!.missing).toEqual([]);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'not-exactly-once-output', output: 'append-events' })]);
    expect(report.text).toMatch(/duplicated in B \(\d+\):\n {2}id="e\d+": B has it \d+ times, A once/);
    expect(report.text).toContain('CAUSE: output "append-events" is a foreachBatch: neither idempotent nor transactional');
    expect(report.verdict).toContain('output "append-events" is a foreachBatch, neither idempotent nor transactional');
  });

  it('the CLI exits 2 on bad options, with the code and what was wrong', async () => {
    const missing = await runCli(['--app', 'node app.js']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('[INVALID_OPTION] microbatch-verify: give exactly one of --snapshot');
    const kills = await runCli(['--app', 'node app.js', '--snapshot', 'cat rows.jsonl', '--kills', 'ten']);
    expect(kills.code).toBe(2);
    expect(kills.stderr).toContain('--kills must be a whole number');
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--snapshot-kafka');
  });
});
