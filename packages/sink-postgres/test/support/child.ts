import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface Child {
  /** Resolves with the first line matching `test`; rejects if the child exits first. */
  waitFor(test: (line: string) => boolean): Promise<string>;
  /** SIGKILL, then wait until the process is gone. */
  kill(): Promise<void>;
}

/** Runs a TypeScript file (a URL, or a path relative to this folder) in a new node process, through tsx. */
export function spawnChild(file: string | URL, args: string[]): Child {
  const script = fileURLToPath(typeof file === 'string' ? new URL(file, import.meta.url) : file);
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = once(child, 'exit');
  const reader = createInterface({ input: child.stdout! });
  reader.on('line', (line) => lines.push(line));
  return {
    async waitFor(test) {
      for (;;) {
        const seen = lines.find(test);
        if (seen) return seen;
        const next = once(reader, 'line');
        const result = await Promise.race([next.then(() => 'line'), exit.then(() => 'exit')]);
        if (result === 'exit' && !lines.find(test)) throw new Error(`child exited before the expected line; stderr:\n${stderr}`);
      }
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
  };
}
