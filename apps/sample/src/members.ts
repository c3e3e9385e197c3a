import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** A `microbatch-sample` child process (a `run`, usually a group member), its output read line by line. */
export interface Member {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Calls `onLine` for every stdout line from now on. */
  onLine(onLine: (line: string) => void): void;
}

/**
 * Starts this same CLI (same node flags, same entry point) with `args`. `trace` sets
 * MICROBATCH_TRACE so the child announces the phases of its batches (the crash test's cue).
 * MICROBATCH_WORKERS is cleared: a member never spawns members of its own.
 */
export function spawnMember(name: string, args: readonly string[], options: { trace?: boolean; stderr?: 'inherit' | 'pipe' } = {}): Member {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args], {
    stdio: ['ignore', 'pipe', options.stderr ?? 'inherit'],
    env: { ...process.env, MICROBATCH_TRACE: options.trace ? '1' : '0', MICROBATCH_WORKERS: '0' },
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  const lines = createInterface({ input: child.stdout! });
  const handlers: Array<(line: string) => void> = [];
  lines.on('line', (line) => {
    for (const h of handlers) h(line);
  });
  void exited.then(() => lines.close());
  return { name, child, exited, onLine: (h) => void handlers.push(h) };
}

/** Sends `signal` to every member still running. */
export function signalAll(members: Iterable<Member>, signal: NodeJS.Signals): void {
  for (const m of members) if (m.child.exitCode === null && m.child.signalCode === null) m.child.kill(signal);
}
