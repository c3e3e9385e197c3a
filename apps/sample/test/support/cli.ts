import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const tsx = createRequire(import.meta.url).resolve('tsx');
const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export const workDir = () => mkdtempSync(join(tmpdir(), 'mb-sample-'));

/** Starts the real CLI as a child process. */
export function startCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', tsx, main, ...args], {
    cwd: options.cwd ?? workDir(),
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  return Object.assign(child, { output: () => output });
}

export async function runCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; output: string }> {
  const child = startCli(args, options);
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, output: child.output() };
}

/** Resolves once the child's output (from character `after` on) contains `text`; rejects if it exits first. */
export function waitForOutput(child: ReturnType<typeof startCli>, text: string | RegExp, { after = 0 }: { after?: number } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const out = child.output().slice(after);
      if (typeof text === 'string' ? out.includes(text) : text.test(out)) {
        clearInterval(timer);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`exited with ${child.exitCode} before "${String(text)}":\n${child.output()}`));
      }
    };
    const timer = setInterval(check, 50);
  });
}
