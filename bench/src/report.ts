// Results: one JSON file per run, and the Markdown table printed and kept in bench/README.md.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Machine } from './machine.ts';

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** Headline figures, already formatted ("1.2M rec/s"). */
  readonly project: string;
  readonly baseline: string;
  /** The ratio the target is about, and what it divides. */
  readonly ratio: number;
  readonly ratioOf: string;
  readonly target: string;
  readonly met: boolean;
  readonly peakRssMB: { readonly project: number; readonly baseline: number };
  /** Everything measured, raw. */
  readonly details: unknown;
  readonly error?: string;
}

export interface RunResults {
  readonly date: string;
  readonly commit: string;
  readonly mode: 'full' | 'quick';
  readonly command: string;
  readonly durationSec: number;
  readonly machine: Machine;
  readonly scenarios: readonly ScenarioResult[];
}

const mb = (v: number) => (Number.isFinite(v) ? String(Math.round(v)) : '-');

export function markdownTable(run: RunResults): string {
  const m = run.machine;
  return [
    `Run ${run.date}, commit ${run.commit}, \`${run.command}\` (${run.mode}, ${Math.round(run.durationSec)} s).`,
    `Machine: ${m.cpus} x ${m.cpuModel}, ${m.memoryGB} GB RAM (${m.freeMemoryGB} GB free at start), Node ${m.node}, ` +
      `Kafka ${m.kafka}, PostgreSQL ${m.postgres}, Redis ${m.redis}, S3 ${m.s3}; ` +
      `1-min load average ${m.loadBeforeServices?.toFixed(2) ?? '?'} before the run started its services, ${m.loadStart.toFixed(2)} once they were up, ${m.loadEnd?.toFixed(2) ?? '?'} at the end ` +
      '(the machine is shared with other engineers running test suites; the run\'s own Kafka, PostgreSQL and children count in the later figures).',
    '',
    '| # | scenario | project | baseline | ratio | target | met | peak RSS MB (project / baseline) |',
    '| --- | --- | --- | --- | ---: | --- | --- | ---: |',
    ...run.scenarios.map((s) =>
      s.error
        ? `| ${s.id} | ${s.title} | failed: ${s.error.split('\n')[0]!.slice(0, 120).replaceAll('|', '\\|')} | | | ${s.target} | no | |`
        : `| ${s.id} | ${s.title} | ${s.project} | ${s.baseline} | ${s.ratio.toFixed(2)} (${s.ratioOf}) | ${s.target} | ${s.met ? 'yes' : '**no**'} | ${mb(s.peakRssMB.project)} / ${mb(s.peakRssMB.baseline)} |`,
    ),
  ].join('\n');
}

const BEGIN = '<!-- bench-results -->';
const END = '<!-- /bench-results -->';

/** Replaces the table between the markers of bench/README.md. */
export function updateReadme(path: string, table: string): void {
  const text = readFileSync(path, 'utf8');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${path} lacks the ${BEGIN} ... ${END} markers`);
  writeFileSync(path, `${text.slice(0, start + BEGIN.length)}\n${table}\n${text.slice(end)}`);
}
