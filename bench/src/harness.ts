// Runs one measured side of a scenario in its own Node process, so its peak RSS
// (process.resourceUsage().maxRSS) belongs to it alone, and collects what it reports.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHILD = join(BENCH_DIR, 'src', 'child.ts');
const MARK = '@@bench ';

export interface ChildResult<R> {
  readonly result: R;
  /** Peak resident set size of the child, in MB. */
  readonly peakRssMB: number;
  /** Spawn to exit, as the parent saw it. */
  readonly wallMs: number;
}

export interface ChildOptions {
  /** Called for every event line the child sends (progress, first batch...). */
  onEvent?: (event: Record<string, unknown>, child: ChildProcess) => void;
  timeoutMs?: number;
  nodeArgs?: string[];
  /** Resolve instead of failing when the child dies of this signal (scenario 5 kills it on purpose). */
  expectSignal?: NodeJS.Signals;
  /** Give the child a stdin pipe (scenario 8 sends its simulated members commands). */
  stdin?: boolean;
}

/** Set BENCH_CPU_PROF=<task,...> (or "all") to write a V8 CPU profile of those children into bench/profiles. */
function profileArgs(task: string): string[] {
  const wanted = (process.env.BENCH_CPU_PROF ?? '').split(',').filter(Boolean);
  if (!wanted.includes(task) && !wanted.includes('all')) return [];
  const dir = join(BENCH_DIR, 'profiles');
  mkdirSync(dir, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${task}-${Date.now()}.cpuprofile`];
}

/** Runs `task` (a key of the child's task table) with JSON `args` in a new process. */
export function runChild<R>(task: string, args: unknown, options: ChildOptions = {}): Promise<ChildResult<R> & { killed?: NodeJS.Signals }> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', ...(options.nodeArgs ?? []), ...profileArgs(task), CHILD, task, JSON.stringify(args)], {
    cwd: BENCH_DIR,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: { ...process.env, MICROBATCH_LOG_LEVEL: process.env.MICROBATCH_LOG_LEVEL ?? 'error' },
  });
  let result: { result: R; maxRssKB: number } | undefined;
  let stderr = '';
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith(MARK)) continue;
      const message = JSON.parse(line.slice(MARK.length)) as { type: string } & Record<string, unknown>;
      if (message.type === 'result') result = message as never;
      else options.onEvent?.(message, child);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    // BENCH_CHILD_STDERR=1 passes children's logs through (with BENCH_LOG_LEVEL=debug, say).
    if (process.env.BENCH_CHILD_STDERR === '1') process.stderr.write(chunk);
    stderr = (stderr + chunk).slice(-8000);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      if (signal && signal === options.expectSignal) {
        resolve({ result: undefined as R, peakRssMB: Number.NaN, wallMs, killed: signal });
      } else if (code === 0 && result) {
        resolve({ result: result.result, peakRssMB: result.maxRssKB / 1024, wallMs });
      } else {
        reject(new Error(`bench child "${task}" failed (code ${code}, signal ${signal}):\n${stderr}`));
      }
    });
  });
}
