import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const tsx = createRequire(import.meta.url).resolve('tsx');

/** The command that starts one of the example apps (TypeScript, run by node with tsx). */
export const exampleApp = (name: string): string[] => [process.execPath, '--import', tsx, fileURLToPath(new URL(`../src/${name}.ts`, import.meta.url))];

export const brokers = (): string[] => process.env.KAFKA_BROKERS!.split(',');

/** A JSON-lines input file of `n` events of 20 users, keyed by user. */
export function inputFile(path: string, n: number): string {
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ key: `user-${i % 20}`, value: { id: `e${i}`, user: `user-${i % 20}`, amount: i % 100 } }));
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Runs the microbatch-verify CLI from its sources; resolves with its exit code and output. */
export async function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cli = fileURLToPath(new URL('../../../packages/testkit/src/cli.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', tsx, cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/** A shell-quoted command line for --app. */
export const shellLine = (argv: readonly string[]): string => argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
