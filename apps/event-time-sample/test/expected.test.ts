import { describe, expect, it } from 'vitest';
import { expectedOutput } from '../src/expected.js';
import { eventAt, isShiftedBack } from '../src/generate.js';
import { compare } from '../src/verify.js';
import { generation as g, shape } from './params.js';

describe('expected output, from the generator alone', () => {
  const expected = expectedOutput(g, shape);

  it('the late records are exactly the events the generator shifted back', () => {
    const shifted = [];
    for (let p = 0; p < g.partitions; p++) for (let o = 0; o < g.perPartition; o++) if (isShiftedBack(g, o)) shifted.push(`${p}-${o}`);
    expect(expected.late.map((l) => l.id).sort()).toEqual(shifted.sort());
    expect(shifted.length).toBeGreaterThan(50);
  });

  it('the closed windows hold every on-time event up to the final watermark (the newest event time minus the delay)', () => {
    const newest = Math.max(...Array.from({ length: g.partitions }, (_, p) => eventAt(g, p, g.perPartition - 1).ts));
    expect(expected.finalWatermark).toBe(newest - shape.delayMs);
    let onTimeInClosed = 0;
    for (let p = 0; p < g.partitions; p++) {
      for (let o = 0; o < g.perPartition; o++) {
        const e = eventAt(g, p, o);
        if (!isShiftedBack(g, o) && Math.floor(e.ts / shape.windowMs) * shape.windowMs + shape.windowMs <= expected.finalWatermark!) onTimeInClosed++;
      }
    }
    expect(expected.windows.reduce((n, w) => n + w.views, 0)).toBe(onTimeInClosed);
    expect(expected.windows.length).toBeGreaterThan(50);
  });

  it('the comparison finds missing, duplicated, wrong and unexpected rows', () => {
    const report = compare('t', new Map([['a', '1'], ['b', '2'], ['c', '3']]), [['a', '1'], ['a', '1'], ['b', '5'], ['d', '1']]);
    expect(report).toMatchObject({ missing: ['c'], duplicated: ['a'], wrong: ['b: 5 instead of 2'], unexpected: ['d'] });
  });
});
