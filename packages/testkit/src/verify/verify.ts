import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VERIFY_ENV, type VerifyTraceLine } from '@microbatch/core';
import { guaranteeFindings, nondeterminismFindings, type Finding } from './diagnose.js';
import { diffSnapshots, formatDiff, isIdentical, type Row, type SnapshotDiff } from './diff.js';
import { runGroup } from './group.js';
import { fillTopic } from './kafka-input.js';
import { planKills, seededRandom, type PlannedKill } from './kill-plan.js';
import { resolveVerifyOptions, type ResolvedVerifyOptions, type RunInfo, type VerifyOptions } from './options.js';
import { exitText, killLoop, runApp, RunFailed, type LandedKill } from './kill-loop.js';
import { runCommand } from './process.js';
import { parseJsonLines } from './snapshots.js';
import { pointCounts, readRunTrace } from './trace.js';

export interface VerifyReport {
  /** Identical snapshots, no nondeterministic output, every planned kill landed. */
  readonly ok: boolean;
  /** One line: why it passed or failed. */
  readonly verdict: string;
  /** The whole readable report (what the CLI prints). */
  readonly text: string;
  readonly seed: number;
  readonly kills: readonly LandedKill[];
  readonly killsPlanned: number;
  readonly diff: SnapshotDiff | undefined;
  /** Likely causes: nondeterministic outputs (a failure) and outputs with no exactly-once guarantee. */
  readonly findings: readonly Finding[];
  /** How often the uninterrupted run reached each protocol point. */
  readonly pointsReached: Readonly<Record<string, number>>;
  /** Set when a run failed on its own (not by a planned kill), with its stderr. */
  readonly failure?: string;
}

function runInfo(o: ResolvedVerifyOptions, run: 'a' | 'b', workDir: string, topic: string | undefined): RunInfo {
  const target = `${o.targetPrefix}_${run}`;
  const dir = join(workDir, run);
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const env: Record<string, string> = {
    ...o.env,
    MICROBATCH_VERIFY_RUN: run,
    MICROBATCH_VERIFY_TARGET: target,
    MICROBATCH_VERIFY_DIR: dir,
    ...(topic ? { MICROBATCH_VERIFY_TOPIC: topic } : {}),
  };
  return { run, target, dir, env, ...(topic ? { topic } : {}) };
}

async function step(o: ResolvedVerifyOptions, what: 'prepare' | 'snapshot', run: RunInfo): Promise<Row[]> {
  const s = what === 'prepare' ? o.prepare : o.snapshot;
  if (s === undefined) return [];
  if (typeof s === 'function') return [...((await s(run)) ?? [])];
  const out = await runCommand(s, { cwd: o.cwd, env: run.env, what: `${what} of run ${run.run}`, logFile: join(run.dir, 'logs', `${what}.log`) });
  return what === 'snapshot' ? parseJsonLines(out, `snapshot of run ${run.run}`) : [];
}

/** Run A: uninterrupted, every batch computed twice (unless determinismCheck is off). */
async function runA(o: ResolvedVerifyOptions, info: RunInfo): Promise<VerifyTraceLine[]> {
  const trace = join(info.dir, 'trace.jsonl');
  const env = { ...info.env, [VERIFY_ENV.trace]: trace, [VERIFY_ENV.stopWhenIdle]: '1', [VERIFY_ENV.determinism]: o.determinismCheck ? '1' : '0' };
  if (o.members > 0) {
    await runGroup(o, info, env, [], seededRandom(o.seed));
    return readRunTrace(info.dir);
  }
  const result = await runApp(o, env, join(info.dir, 'logs', 'run.log'));
  if (result.code !== 0) throw new RunFailed(`the uninterrupted run (A) failed: ${exitText(result)}\n${result.stderr}`);
  return readRunTrace(info.dir);
}

/** Run B: the kill loop (or the group's), into target B. */
async function runB(o: ResolvedVerifyOptions, info: RunInfo, plan: readonly PlannedKill[], write: (line: string) => void): Promise<LandedKill[]> {
  if (o.members > 0) return runGroup(o, info, { ...info.env, [VERIFY_ENV.trace]: join(info.dir, 'trace.jsonl'), [VERIFY_ENV.stopWhenIdle]: '1' }, plan, seededRandom(o.seed + 1), write);
  const { landed } = await killLoop(o, {
    env: info.env,
    plan,
    dir: info.dir,
    write,
    onKill: (kill, k) => write(`  kill ${k + 1}/${plan.length}: SIGKILL ${kill.phase} (${kill.point}, reach ${kill.nth}, batch ${kill.batchTime})`),
  });
  return landed;
}

/**
 * Proves an application exactly-once, or shows where it is not: runs it uninterrupted into target
 * A and with `kills` SIGKILLs at the protocol points into target B, on the same input, and
 * compares the snapshots of both. See the README ("prove your pipeline").
 */
export async function verifyPipeline(options: VerifyOptions): Promise<VerifyReport> {
  const o = resolveVerifyOptions(options);
  const write = o.write;
  const workDir = o.workDir ?? mkdtempSync(join(tmpdir(), 'microbatch-verify-'));
  mkdirSync(workDir, { recursive: true });
  const plan = planKills(o.kills, seededRandom(o.seed));
  write(`microbatch-verify: seed ${o.seed}, ${o.kills} kills${o.members > 0 ? `, ${o.members} members` : ''}; targets ${o.targetPrefix}_a and ${o.targetPrefix}_b; logs in ${workDir}`);
  let topic: string | undefined;
  if (o.input) {
    const filled = await fillTopic(o.input, { cwd: o.cwd, defaultTopic: `${o.targetPrefix.replaceAll('_', '-')}-input` });
    topic = filled.topic;
    write(`input: ${filled.records} records in the new topic ${topic}`);
  }
  const [a, b] = [runInfo(o, 'a', workDir, topic), runInfo(o, 'b', workDir, topic)];
  const finish = (fields: Omit<VerifyReport, 'text' | 'seed' | 'killsPlanned'>): VerifyReport => {
    const report = { ...fields, seed: o.seed, killsPlanned: plan.length };
    return { ...report, text: formatReport(report) };
  };
  let traceA: VerifyTraceLine[] = [];
  let kills: LandedKill[] = [];
  try {
    await step(o, 'prepare', a);
    write('run A: uninterrupted...');
    traceA = await runA(o, a);
    await step(o, 'prepare', b);
    write(`run B: ${plan.length} kills...`);
    kills = await runB(o, b, plan, write);
  } catch (error) {
    if (!(error instanceof RunFailed)) throw error;
    const findings = [...nondeterminismFindings(traceA), ...guaranteeFindings(traceA)];
    return finish({ ok: false, verdict: `FAILED: ${error.message.split('\n')[0]}`, failure: error.message, kills, diff: undefined, findings, pointsReached: Object.fromEntries(pointCounts(traceA)) });
  }
  const [rowsA, rowsB] = [await step(o, 'snapshot', a), await step(o, 'snapshot', b)];
  const diff = diffSnapshots(rowsA, rowsB, o.key);
  const traceB = readRunTrace(b.dir);
  const nondeterministic = nondeterminismFindings(traceA);
  const findings = [...nondeterministic, ...guaranteeFindings([...traceA, ...traceB])];
  const identical = isIdentical(diff);
  const allKills = kills.length === plan.length;
  const ok = identical && nondeterministic.length === 0 && allKills;
  const verdict = ok
    ? `OK: exactly once under ${kills.length} kills — ${rowsA.length} rows, none missing, duplicated or changed`
    : !identical
      ? `FAILED: the run with kills differs from the uninterrupted run (${diff.missing.length} missing, ${diff.duplicated.length} duplicated, ${diff.changed.length} changed, ${diff.unexpected.length} only in B)` +
        (findings.length > 0 ? `; likely cause: ${findings.map(causeText).join('; ')}` : '')
      : nondeterministic.length > 0
        ? `FAILED: identical this time, but ${nondeterministic.map((f) => `output "${f.output}"`).join(', ')} computed different contents from the same input`
        : `FAILED: only ${kills.length} of ${plan.length} kills landed before the input ran out; give the app more input or smaller batches (maxRecordsPerPartition)`;
  return finish({ ok, verdict, kills, diff, findings, pointsReached: Object.fromEntries(pointCounts(traceA)) });
}

const causeText = (f: Finding) =>
  f.kind === 'nondeterministic'
    ? `output "${f.output}" computes different contents from the same input (nondeterministic user code)`
    : `output "${f.output}" is a foreachBatch, neither idempotent nor transactional (a replay runs it again)`;

/** The report as the CLI prints it. */
export function formatReport(r: Omit<VerifyReport, 'text'>): string {
  const lines: string[] = [];
  const reached = Object.entries(r.pointsReached);
  if (reached.length > 0) lines.push(`protocol points reached in run A: ${reached.map(([p, n]) => `${p} ${n}`).join(', ')}`);
  const byPhase = new Map<string, number>();
  for (const k of r.kills) byPhase.set(k.phase, (byPhase.get(k.phase) ?? 0) + 1);
  lines.push(`kills landed: ${r.kills.length} of ${r.killsPlanned}${byPhase.size > 0 ? ` (${[...byPhase].map(([p, n]) => `${p} ${n}`).join(', ')})` : ''}`);
  if (r.diff) lines.push(formatDiff(r.diff));
  if (r.failure) lines.push(r.failure);
  // An output without a guarantee explains a difference; with none, it is still worth a warning.
  const differs = r.diff !== undefined && !isIdentical(r.diff);
  for (const f of r.findings) lines.push(`${f.kind === 'nondeterministic' || differs ? 'CAUSE' : 'WARNING'}: ${f.message}`);
  lines.push(`seed ${r.seed} (--seed ${r.seed} replays the same kill plan)`);
  lines.push(`VERDICT: ${r.verdict}`);
  return lines.join('\n');
}
