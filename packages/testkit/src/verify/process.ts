import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export interface Started {
  readonly pid: number;
  /** How the command ended (its stdout and stderr read to the end). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the command's own process ended, even if a child it left still holds its output open. */
  readonly ended: Promise<void>;
  /** SIGKILLs the command's whole process group (a wrapper like `sh -c` or `pnpm` and the app under it). */
  killGroup(): void;
  /** The last lines it wrote on stderr, for error messages. */
  stderrTail(): string;
  /** Everything it wrote on stdout. */
  stdout(): string;
}

/**
 * Starts a command in a process group of its own, with `env` added to this process's
 * environment; stdout and stderr also go to `logFile` when given. A string is run with `sh -c`.
 */
export function startCommand(command: string | readonly string[], options: { cwd: string; env: Readonly<Record<string, string>>; logFile?: string }): Started {
  const [program, args] = typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
  const child = spawn(program, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  let logError: unknown;
  log?.on('error', (error) => (logError ??= error));
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString('utf8');
    log?.write(chunk);
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    err = (err + chunk.toString('utf8')).slice(-20_000);
    log?.write(chunk);
  });
  const exited = Promise.race([
    once(child, 'close').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null })),
    once(child, 'error').then(([error]) => {
      throw error;
    }),
  ]).then((result) => {
    log?.end();
    if (logError) throw new Error(`the log file ${options.logFile} of ${String(command)} could not be written`, { cause: logError });
    return result;
  });
  const ended = Promise.race([once(child, 'exit'), once(child, 'error')]).then(() => {});
  return {
    pid: child.pid ?? -1,
    exited,
    ended,
    killGroup() {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is gone already, which is what was asked.
      }
    },
    stderrTail: () => err.trim().split('\n').slice(-15).join('\n'),
    stdout: () => out,
  };
}

/** Runs a command to its end; rejects with its stderr unless it exits 0. */
export async function runCommand(command: string, options: { cwd: string; env: Readonly<Record<string, string>>; what: string; logFile?: string }): Promise<string> {
  const started = startCommand(command, options);
  const { code, signal } = await started.exited;
  if (code !== 0) throw new Error(`${options.what} (${command}) failed with ${signal ?? `exit code ${code}`}:\n${started.stderrTail()}`);
  return started.stdout();
}
