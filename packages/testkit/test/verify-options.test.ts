import { describe, expect, it } from 'vitest';
import { isMicrobatchError } from '@microbatch/core';
import { parseJsonLines, parseVerifyArgs, planKills, postgresSnapshot, redisSnapshot, resolveVerifyOptions, seededRandom, KILL_POINTS, type VerifyOptions } from '../src/index.js';

const valid: VerifyOptions = { app: 'node app.js', snapshot: 'node snapshot.js' };

function expectInvalid(fn: () => unknown, code: string, text: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(isMicrobatchError(error), String(error)).toBe(true);
  const e = error as { code: string; message: string; cause?: unknown };
  expect(e.code).toBe(code);
  expect(e.message).toContain(text);
  expect(e.cause).toBeInstanceOf(Error);
}

describe('microbatch-verify options', () => {
  it('resolves the defaults', () => {
    const o = resolveVerifyOptions(valid);
    expect(o).toMatchObject({ kills: 10, members: 0, determinismCheck: true, processTimeoutMs: 300_000 });
    expect(o.targetPrefix).toMatch(/^verify_[a-z0-9]+$/);
  });

  it.each([
    ['app', { ...valid, app: '' }, 'app must be'],
    ['app argv', { ...valid, app: [] }, 'app must be'],
    ['snapshot', { app: 'x' } as VerifyOptions, 'snapshot is required'],
    ['kills', { ...valid, kills: -1 }, 'kills must be an integer >= 0'],
    ['members', { ...valid, members: 1.5 }, 'members must be'],
    ['targetPrefix', { ...valid, targetPrefix: 'Bad-Name' }, 'targetPrefix must be'],
    ['key', { ...valid, key: ['id', ''] }, 'key must be'],
    ['input brokers', { ...valid, input: { brokers: ['nohost'], file: 'x' } }, 'input.brokers must be'],
    ['input source', { ...valid, input: { brokers: ['h:1'] } }, 'exactly one of file or generator'],
    ['processTimeoutMs', { ...valid, processTimeoutMs: 10 }, 'processTimeoutMs must be'],
  ])('%s: INVALID_OPTION with a cause', (_name, options, text) => {
    expectInvalid(() => resolveVerifyOptions(options as VerifyOptions), 'INVALID_OPTION', text);
  });

  it('snapshot helpers check their URLs', () => {
    expectInvalid(() => postgresSnapshot({ url: 'mysql://x', query: 'SELECT 1' }), 'INVALID_URI', 'postgres://');
    expectInvalid(() => redisSnapshot({ url: 'http://x', pattern: '*' }), 'INVALID_URI', 'redis://');
    expectInvalid(() => parseJsonLines('{"a":1}\nnot json\n', 'snapshot'), 'INVALID_RECORD', 'line 2 is not JSON');
    expect(parseJsonLines('{"a":1}\n\n7\n', 'snapshot')).toEqual([{ a: 1 }, { value: 7 }]);
  });
});

describe('microbatch-verify flags', () => {
  it('map to the options', () => {
    const o = parseVerifyArgs(['--app', 'node app.js', '--snapshot', 'node s.js', '--key', 'kind, id', '--kills', '12', '--seed=7', '--no-determinism-check'], {});
    expect(o).toEqual({ app: 'node app.js', snapshot: 'node s.js', key: ['kind', 'id'], kills: 12, seed: 7, determinismCheck: false });
    expect(parseVerifyArgs(['--help'])).toBe('help');
  });

  it.each([
    [['--snapshot', 'x'], '--app is required'],
    [['--app', 'x'], 'exactly one of --snapshot'],
    [['--app', 'x', '--snapshot', 'y', '--snapshot-sql', 'z'], 'exactly one of --snapshot'],
    [['--app', 'x', '--snapshot', 'y', '--kills', 'many'], '--kills must be a whole number'],
    [['--app', 'x', '--snapshot', 'y', '--frobnicate'], 'unknown argument --frobnicate'],
    [['--app', 'x', '--snapshot-sql', 'SELECT 1'], 'need --database-url'],
    [['--app', 'x', '--snapshot', 'y', '--topic', 't'], '--topic and --partitions describe the input topic'],
  ])('%j: INVALID_OPTION', (argv, text) => {
    expectInvalid(() => parseVerifyArgs(argv, {}), 'INVALID_OPTION', text);
  });
});

describe('kill plan', () => {
  it('aims at every point in turn, the same plan for the same seed', () => {
    const plan = planKills(10, seededRandom(42));
    expect(plan.map((k) => k.point)).toEqual([...KILL_POINTS, ...KILL_POINTS].map((p) => p.point));
    expect(plan.every((k) => k.nth >= 1 && k.nth <= 2 && typeof k.delayMs === 'number' && k.delayMs >= 0 && k.delayMs < 10)).toBe(true);
    expect(planKills(10, seededRandom(42))).toEqual(plan);
    expect(planKills(10, seededRandom(43))).not.toEqual(plan);
  });
});
