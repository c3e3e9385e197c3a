import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const hooks = fileURLToPath(new URL('./ts-hooks.mjs', import.meta.url));
const script = fileURLToPath(new URL('./fs-child.ts', import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first output line (seen or future) matching `test`; rejects if the child exits first. */
  waitFor(test: (line: string) => boolean): Promise<string>;
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
  exited(): Promise<number | null>;
}

export function spawnFsChild(...args: string[]): Child {
  const child = spawn(process.execPath, ['--experimental-transform-types', '--no-warnings', '--import', hooks, script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: Array<{ test: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) if (w.test(line)) waiters.splice(waiters.indexOf(w), 1), w.resolve(line);
  });
  const exit = once(child, 'exit').then(([code]) => code as number | null);
  return {
    process: child,
    lines,
    waitFor(test) {
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<string>((resolve) => waiters.push({ test, resolve })),
        exit.then((code) => {
          throw new Error(`child exited with ${code} before the expected line; stderr:\n${stderr}`);
        }),
      ]);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
    exited: () =>
      exit.then((code) => {
        if (code !== 0) throw new Error(`child exited with ${code}; stderr:\n${stderr}`);
        return code;
      }),
  };
}
