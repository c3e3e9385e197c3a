import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { VERIFY_ENV } from '@microbatch/core';
import type { PlannedKill } from './kill-plan.js';
import { startCommand } from './process.js';
import { readTrace } from './trace.js';

/** A kill that landed: where it was aimed and where the engine says it struck. */
export interface LandedKill extends PlannedKill {
  readonly batchTime: number;
  readonly landed: string;
  /** In group mode: the member killed. */
  readonly member?: string;
}

/** How to start the app: the command, where, and how long one process may take. */
export interface AppCommand {
  readonly app: string | readonly string[];
  readonly cwd: string;
  readonly processTimeoutMs: number;
}

/** A process of the app failed on its own (not by a planned kill): the message has its stderr. */
export class RunFailed extends Error {}

/** An app process that must end by itself: waits, SIGKILLs its group when it ends or times out. */
export async function runApp(command: AppCommand, env: Record<string, string>, logFile: string): Promise<{ code: number | null; signal: string | null; timedOut: boolean; stderr: string }> {
  const started = startCommand(command.app, { cwd: command.cwd, env, logFile });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    started.killGroup();
  }, command.processTimeoutMs);
  await started.ended;
  clearTimeout(timer);
  // Whatever the app left behind (a wrapper's children) goes with it: the next start must be alone.
  started.killGroup();
  const { code, signal } = await started.exited;
  return { code, signal, timedOut, stderr: started.stderrTail() };
}

export const exitText = (r: { code: number | null; signal: string | null; timedOut: boolean }): string =>
  r.timedOut ? 'it did not finish in time (does it stop once its input is consumed?)' : r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`;

/**
 * One start of the app per planned kill, each armed (MICROBATCH_VERIFY_CRASH_AT) to SIGKILL itself
 * at its point, then a last start that runs to the end. Stops early, `finishedEarly`, when a start
 * ends by itself before its kill could land. Traces go to `<dir>/trace.jsonl`, logs to `<dir>/logs`.
 */
export async function killLoop(
  command: AppCommand,
  options: {
    env: Record<string, string>;
    plan: readonly PlannedKill[];
    dir: string;
    write?: (line: string) => void;
    onKill?: (kill: LandedKill, index: number) => void;
    /**
     * Default true: every start stops at its first batch without new input (MICROBATCH_VERIFY_STOP_WHEN_IDLE).
     * False for an app that stops by itself, e.g. one whose event-time windows close only after a
     * few idle batches (docs/semantics.md §9).
     */
    stopWhenIdle?: boolean;
  },
): Promise<{ landed: LandedKill[]; finishedEarly: boolean }> {
  const { plan, dir } = options;
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const trace = join(dir, 'trace.jsonl');
  const base = { ...options.env, [VERIFY_ENV.trace]: trace, ...(options.stopWhenIdle === false ? {} : { [VERIFY_ENV.stopWhenIdle]: '1' }) };
  const landed: LandedKill[] = [];
  let finishedEarly = false;
  for (const [k, kill] of plan.entries()) {
    const crashesBefore = readTrace(trace).filter((l) => l.kind === 'crash').length;
    const result = await runApp(command, { ...base, [VERIFY_ENV.crashAt]: `${kill.point}@${kill.nth}`, [VERIFY_ENV.crashDelayMs]: String(kill.delayMs) }, join(dir, 'logs', `run-${k + 1}.log`));
    const crash = readTrace(trace).filter((l) => l.kind === 'crash')[crashesBefore];
    if (crash?.kind === 'crash') {
      const hit = { ...kill, batchTime: crash.batchTime, landed: crash.landed };
      landed.push(hit);
      options.onKill?.(hit, k);
      continue;
    }
    if (result.code !== 0) throw new RunFailed(`a start failed on its own before kill ${k + 1} (${kill.point}): ${exitText(result)}\n${result.stderr}`);
    options.write?.(`  the app finished before kill ${k + 1} could land (${kill.point}, reach ${kill.nth})`);
    finishedEarly = true;
    break;
  }
  const result = await runApp(command, base, join(dir, 'logs', 'run-final.log'));
  if (result.code !== 0) throw new RunFailed(`the last start, after the kills, failed: ${exitText(result)}\n${result.stderr}`);
  return { landed, finishedEarly };
}
