import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fnv1a, partitionOf, stableKey } from '../src/index.js';

describe('hash partitioning', () => {
  it('assigns the same partitions as earlier versions, so a batch replayed after an upgrade lands where it did', () => {
    // Computed by the release before string keys got their fast path; never change these.
    const keys = ['user-1', '', 'é漢字🙂', 'a\u0000b', 42, -0, 3.5, 10n, true, null, undefined, ['k', 1], { b: 2, a: 1 }];
    const pinned = [945044, 986981, 32575, 408332, 945780, 415950, 351336, 416673, 99135, 985099, 321567, 262168, 824436];
    expect(keys.map((key) => partitionOf(key, 1_000_003))).toEqual(pinned);
  });

  it('hashes a string key exactly as the FNV-1a of its stable encoding', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.integer({ min: 1, max: 10_000 }), (key, n) => {
        expect(partitionOf(key, n)).toBe(fnv1a(stableKey(key)) % n);
      }),
    );
  });
});
