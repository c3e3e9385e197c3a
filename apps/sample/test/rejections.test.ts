import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { startPrivateService } from '../../../tools/services/src/index.mjs';
import { expectedTables } from '../src/expected.js';
import { runCli, startCli, waitForOutput, workDir } from './support/cli.js';

const shape = { events: 20_000, partitions: 4, seed: 5 };
const shapeArgs = ['--events', String(shape.events), '--partitions', String(shape.partitions), '--seed', String(shape.seed)];
const pace = ['--batch-interval', '100', '--max-records-per-partition', '500'];
const IDLE_BATCH = /batch \S+ {2}0 records/;
/** A log line about malformed input: the sample's, a dead-letter policy's, any. */
const ABOUT_REJECTIONS = /malformed|dead.?letter|reject|deserializ/i;

/** What the tables will hold: ~1% of the generated records are malformed, of five kinds. */
function expectedRejections(): Record<string, number> {
  const byReason: Record<string, number> = {};
  for (const { reason } of expectedTables(shape).rejected.values()) byReason[reason] = (byReason[reason] ?? 0) + 1;
  return byReason;
}

const kafka: { instance?: { url: string; stop(): Promise<void> } } = {};
afterAll(async () => {
  await kafka.instance?.stop();
});

describe('malformed input is counted per batch, not logged per record', () => {
  for (const source of ['memory', 'kafka'] as const) {
    it(`${source} source: at most one rejection line per batch, with the right counts in the log, /metrics, the dashboard and the status line`, async () => {
      const cwd = workDir();
      const sourceArgs = ['--source', source];
      if (source === 'kafka') {
        kafka.instance = await startPrivateService('kafka', { log: () => {} });
        const brokers = kafka.instance!.url.replace(/^[a-z]+:\/\//, '');
        sourceArgs.push('--brokers', brokers, '--topic', 'malformed');
        const produced = await runCli(['produce', '--brokers', brokers, '--topic', 'malformed', ...shapeArgs], { cwd });
        expect(produced.code, produced.output).toBe(0);
      }
      // Debug level: the few sample records are logged too, and must be few.
      const run = startCli(['run', ...sourceArgs, ...shapeArgs, ...pace, '--http-port', '0'], { cwd, env: { MICROBATCH_LOG_LEVEL: 'debug' } });
      try {
        await waitForOutput(run, IDLE_BATCH);
        const url = /dashboard at (\S+)/.exec(run.output())![1]!;
        const metrics = await (await fetch(`${url}metrics`)).text();
        const state = (await (await fetch(`${url}api/state`)).json()) as { totals: { rejected: number }; rejected: Array<{ reason: string; count: number }> };
        run.kill('SIGTERM');
        const [exit] = (await once(run, 'exit')) as [number | null];
        expect(exit, run.output()).toBe(0);

        const expected = expectedRejections();
        const total = Object.values(expected).reduce((a, b) => a + b, 0);
        expect(total).toBeGreaterThan(100); // the input really has many malformed records

        const lines = run.output().split('\n');
        const logs = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; batchTime?: number; byReason?: Record<string, number>; samples?: unknown[] });
        const about = logs.filter((l) => ABOUT_REJECTIONS.test(l.msg));
        const warnings = about.filter((l) => l.level >= 40);
        const debug = about.filter((l) => l.level < 40);
        // One warning per batch at most, each naming its batch, and together the exact counts per reason.
        expect(warnings.every((l) => typeof l.batchTime === 'number'), JSON.stringify(warnings.slice(0, 3))).toBe(true);
        expect(new Set(warnings.map((l) => l.batchTime)).size).toBe(warnings.length);
        const logged: Record<string, number> = {};
        for (const w of warnings) for (const [reason, n] of Object.entries(w.byReason ?? {})) logged[reason] = (logged[reason] ?? 0) + n;
        expect(logged).toEqual(expected);
        // A few sample records per batch at debug level, never a line each.
        expect(debug.length).toBeLessThanOrEqual(warnings.length);
        for (const d of debug) expect(d.samples!.length).toBeLessThanOrEqual(3);

        // Prometheus: one series per reason.
        for (const [reason, n] of Object.entries(expected)) {
          const name = source === 'kafka' ? 'kafka' : 'generator';
          expect(metrics).toContain(`microbatch_records_rejected_total{source="${name}",reason="${reason}",action="dead-lettered"} ${n}`);
        }
        // The dashboard: per reason and in all.
        expect(state.totals.rejected).toBe(total);
        expect(Object.fromEntries(state.rejected.map((r) => [r.reason, r.count]))).toEqual(expected);
        // The status line of each batch: its count.
        const counted = lines.filter((l) => l.startsWith('batch ')).reduce((sum, l) => sum + Number(/rejected ([\d,]+)/.exec(l)?.[1]?.replaceAll(',', '') ?? 0), 0);
        expect(counted).toBe(total);

        const verified = await runCli(['verify', ...shapeArgs], { cwd });
        expect(verified.code, verified.output).toBe(0);
      } finally {
        run.kill('SIGKILL'); // a no-op once it exited
      }
    });
  }
});
