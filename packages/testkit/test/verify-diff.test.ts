import { describe, expect, it } from 'vitest';
import { diffSnapshots, formatDiff, isIdentical } from '../src/index.js';

const a = [
  { id: 'e1', user: 'u1', amount: 5 },
  { id: 'e2', user: 'u2', amount: 7 },
  { id: 'e3', user: 'u1', amount: 9 },
];

describe('diffSnapshots', () => {
  it('finds nothing between equal snapshots in another order, with keys in another order', () => {
    const b = [a[2]!, { amount: 5, user: 'u1', id: 'e1' }, a[1]!];
    const diff = diffSnapshots(a, b, ['id']);
    expect(isIdentical(diff)).toBe(true);
    expect(formatDiff(diff)).toContain('identical');
  });

  it('tells missing, duplicated, changed and unexpected rows apart, by key', () => {
    const b = [a[0]!, a[0]!, { ...a[1]!, amount: 8 }, { id: 'e9', user: 'u9', amount: 1 }];
    const diff = diffSnapshots(a, b, ['id']);
    expect(diff.missing.map((m) => m.key)).toEqual(['id="e3"']);
    expect(diff.duplicated).toEqual([{ key: 'id="e1"', row: a[0], countA: 1, countB: 2 }]);
    expect(diff.changed).toEqual([{ key: 'id="e2"', a: a[1], b: { ...a[1], amount: 8 }, columns: ['amount'] }]);
    expect(diff.unexpected.map((u) => u.key)).toEqual(['id="e9"']);
    const text = formatDiff(diff);
    expect(text).toContain('missing in B (1):\n  id="e3": A has it once, B 0 times');
    expect(text).toContain('duplicated in B (1):\n  id="e1": B has it 2 times, A once');
    expect(text).toContain('changed (1):\n  id="e2": amount 7 -> 8');
    expect(text).toContain('only in B (1):\n  id="e9"');
  });

  it('without a key, the whole row is its identity: a change is a missing and an unexpected row; a lost copy is missing', () => {
    const diff = diffSnapshots([...a, a[0]!], [a[0]!, { ...a[1]!, amount: 8 }, a[2]!]);
    expect(diff.changed).toEqual([]);
    expect(diff.missing.map((m) => [m.countA, m.countB])).toEqual([[2, 1], [1, 0]]);
    expect(diff.unexpected).toHaveLength(1);
  });

  it('compares bigints, Dates and nested objects by value', () => {
    const row = { id: 1n, at: new Date(0), tags: { b: [1, 2], a: null } };
    expect(isIdentical(diffSnapshots([row], [{ tags: { a: null, b: [1, 2] }, at: new Date(0), id: 1n }], ['id']))).toBe(true);
    expect(diffSnapshots([row], [{ ...row, at: new Date(1) }], ['id']).changed[0]?.columns).toEqual(['at']);
  });
});
