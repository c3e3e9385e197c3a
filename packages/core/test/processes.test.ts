import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../src/index.js';

const tsx = createRequire(import.meta.url).resolve('tsx');
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe('real processes', () => {
  it('SIGTERM stops gracefully: the batch in flight completes and is recorded', async () => {
    const child = spawn(process.execPath, ['--import', tsx, fixture('signal-child.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const running = new Promise<void>((resolve) =>
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('running')) resolve();
      }),
    );
    await running;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const summary = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(summary.status).toBe('stopped');
    expect(summary.batches).toBeGreaterThanOrEqual(2);
    expect(summary.pending).toBe(0);
    expect(summary.lastCompletedTime % 50).toBe(0);
  });

  it('hash partitioning is the same in another process (no per-process seed)', () => {
    const keys = ['a', 'user-42', 17, -0, 3.5, true, null, ['t', 1], { b: 2, a: 1 }, 'ünïcødé', 12345678901234];
    const there = JSON.parse(execFileSync(process.execPath, ['--import', tsx, fixture('hash-child.ts'), JSON.stringify(keys)], { encoding: 'utf8' }));
    expect(there).toEqual(keys.map((k) => partitionOf(k, 7)));
    expect(partitionOf({ a: 1, b: 2 }, 7)).toBe(partitionOf({ b: 2, a: 1 }, 7));
  });
});
