import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VERIFY_ENV, type VerifyTraceLine } from '../src/index.js';

const tsx = createRequire(import.meta.url).resolve('tsx');
const fixture = fileURLToPath(new URL('./fixtures/verify-child.ts', import.meta.url));

/** Runs the fixture with the given switches; returns how it ended and its trace lines. */
async function runChild(env: Record<string, string>, stamp: 'record' | 'clock' = 'record', offer = false) {
  const traceFile = join(mkdtempSync(join(tmpdir(), 'verify-hooks-')), 'trace.jsonl');
  const child = spawn(process.execPath, ['--import', tsx, fixture, stamp, ...(offer ? ['offer'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, [VERIFY_ENV.trace]: traceFile, [VERIFY_ENV.stopWhenIdle]: '1', ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  let lines: VerifyTraceLine[] = [];
  try {
    lines = readFileSync(traceFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as VerifyTraceLine);
  } catch {
    lines = [];
  }
  return { code, signal, lines, stderr };
}

describe('MICROBATCH_VERIFY_* switches', () => {
  it('trace every protocol point and each output with the guarantee the engine knows; stopWhenIdle ends the run', async () => {
    const { code, lines } = await runChild({});
    expect(code).toBe(0);
    const outputs = lines.find((l) => l.kind === 'outputs');
    expect(outputs).toMatchObject({
      outputs: [
        { name: 'kept', guarantee: 'transactional', via: 'sink' },
        { name: 'appended', guarantee: 'none', via: 'foreachBatch' },
        { name: 'print-2', guarantee: 'none', via: 'foreachBatch' },
      ],
    });
    const points = new Set(lines.flatMap((l) => (l.kind === 'point' ? [l.point] : [])));
    for (const p of ['plan:before-write', 'checkpoint:during-write', 'plan:after-write', 'output:before', 'output:after']) expect(points).toContain(p);
    expect(lines.some((l) => l.kind === 'nondeterministic' || l.kind === 'crash')).toBe(false);
  });

  it.each(['plan:before-write', 'checkpoint:during-write', 'output:in-progress', 'output:after'])('CRASH_AT %s@2 SIGKILLs the process there', async (point) => {
    const { signal, lines } = await runChild({ [VERIFY_ENV.crashAt]: `${point}@2`, [VERIFY_ENV.crashDelayMs]: '1' });
    expect(signal).toBe('SIGKILL');
    const crash = lines.at(-1);
    expect(crash).toMatchObject({ kind: 'crash', point, nth: 2 });
    // Nothing of the protocol ran after the point: the last point traced before the crash is where it aimed.
    const before = lines.filter((l) => l.kind === 'point').at(-1) as { point: string };
    const expected = point === 'output:in-progress' ? ['output:before', 'output:after'] : [point];
    expect(expected).toContain(before.point);
  });

  it('an output that offers the moment (offerOutputCrash) gets an armed output:in-progress kill there, before its delay ran out', async () => {
    const { signal, lines } = await runChild({ [VERIFY_ENV.crashAt]: 'output:in-progress@2', [VERIFY_ENV.crashDelayMs]: '60000' }, 'record', true);
    expect(signal).toBe('SIGKILL');
    expect(lines.at(-1)).toMatchObject({ kind: 'crash', point: 'output:in-progress', nth: 2, landed: 'where an output offered it (offerOutputCrash)' });
    // Inside the outputs: the batch's output:before was traced, its output:after never was.
    expect((lines.filter((l) => l.kind === 'point').at(-1) as { point: string }).point).toBe('output:before');
  });

  it('CRASH_DELAY_MS=offer counts only batches whose outputs offer the kill, and kills there', async () => {
    const { signal, lines } = await runChild({ [VERIFY_ENV.crashAt]: 'output:in-progress@3', [VERIFY_ENV.crashDelayMs]: 'offer' }, 'record', true);
    expect(signal).toBe('SIGKILL');
    expect(lines.at(-1)).toMatchObject({ kind: 'crash', point: 'output:in-progress', nth: 3, landed: 'where an output offered it (offerOutputCrash)' });
    // The third batch that wrote: two batches completed their outputs before it.
    expect(lines.filter((l) => l.kind === 'point' && l.point === 'output:after')).toHaveLength(2);
    // Without an offering output the kill never lands: the run ends by itself.
    const unoffered = await runChild({ [VERIFY_ENV.crashAt]: 'output:in-progress@1', [VERIFY_ENV.crashDelayMs]: 'offer' });
    expect(unoffered.code).toBe(0);
  });

  it('DETERMINISM names the first output whose contents differ when user code reads the clock', async () => {
    const { code, lines } = await runChild({ [VERIFY_ENV.determinism]: '1' }, 'clock');
    expect(code).toBe(0);
    const found = lines.filter((l) => l.kind === 'nondeterministic');
    expect(found[0]).toMatchObject({ output: 'kept', partition: 0, index: 0 });
    expect(found.map((l) => (l as { output: string }).output)).toEqual(['kept']);
  });

  it('DETERMINISM finds nothing in a deterministic program', async () => {
    const { code, lines } = await runChild({ [VERIFY_ENV.determinism]: '1' });
    expect(code).toBe(0);
    expect(lines.filter((l) => l.kind === 'nondeterministic')).toEqual([]);
    expect(lines.filter((l) => l.kind === 'point' && l.point === 'output:after').length).toBeGreaterThan(3);
  });

  it('a malformed switch fails the context with INVALID_OPTION naming the variable', async () => {
    const { code, stderr } = await runChild({ [VERIFY_ENV.crashAt]: 'output:somewhere@1' });
    expect(code).not.toBe(0);
    expect(stderr).toContain('INVALID_OPTION');
    expect(stderr).toContain(VERIFY_ENV.crashAt);
  });
});
