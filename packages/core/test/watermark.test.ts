import { describe, expect, it } from 'vitest';
import { advanceWatermark, initialWatermark } from '../src/dstream/event-time/watermark.js';

const spec = { delayMs: 100, idleAfterBatches: 2 };
const step = (state = initialWatermark(), ...batches: Array<Record<string, number | null>>) =>
  batches.reduce((s, b) => advanceWatermark(s, new Map(Object.entries(b)), spec), state);

describe('the watermark rule (docs/semantics.md §9)', () => {
  it('is the smallest newest event time over active partitions minus the delay', () => {
    expect(step(undefined, { p0: 1000, p1: 700 }).watermark).toBe(600);
  });

  it('an active partition that never brought a record holds it; once idle it does not', () => {
    const once = step(undefined, { p0: 1000, p1: null });
    expect(once.watermark).toBeNull();
    expect(step(once, { p0: 1100, p1: null }).watermark).toBe(1000);
  });

  it('when every partition is idle, it is the largest newest event time minus the delay', () => {
    const state = step(undefined, { p0: 1000, p1: 5000 });
    expect(state.watermark).toBe(900);
    expect(step(state, { p0: null, p1: null }).watermark).toBe(900);
    expect(step(state, { p0: null, p1: null }, { p0: null, p1: null }).watermark).toBe(4900);
  });

  it('never goes back, and a partition missing from a batch counts as idle', () => {
    const state = step(undefined, { p0: 1000 }, { p0: 2000 });
    expect(state.watermark).toBe(1900);
    const back = step(state, { p0: null, p1: 10 });
    expect(back.watermark).toBe(1900);
    expect(step(state, {}, {}).partitions['p0']).toEqual({ max: 2000, idle: 2 });
  });
});
