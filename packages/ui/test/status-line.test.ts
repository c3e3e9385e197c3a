import { createVirtualClock, type BatchInfo } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { formatStatusLine } from '../src/index.js';
import { createPipeline } from './support/pipeline.js';

const base: BatchInfo = {
  batchTime: Date.UTC(2026, 0, 2, 12, 0, 1, 200),
  inputRecords: { clicks: 1200, views: 34 },
  numRecords: 1234,
  offsetRanges: [],
  lag: { clicks: { '0': 30, '1': 12 }, views: { '0': 0 } },
  replay: false,
  attempt: 1,
  submissionTime: 0,
  processingDelay: 120.4,
  schedulingDelay: 3,
};

describe('formatStatusLine', () => {
  it('shows batch time, records, rate, total lag and delays', () => {
    expect(formatStatusLine(base, { batchIntervalMs: 200, timeZone: 'UTC' })).toBe(
      'batch 12:00:01.200  1,234 records  6,170 rec/s  lag 42  processing 120 ms  scheduling 3 ms',
    );
  });

  it('shows the batch\'s rejected records as one count, and nothing when there were none', () => {
    expect(formatStatusLine(base, { batchIntervalMs: 200, timeZone: 'UTC', rejected: 1234 })).toBe(
      'batch 12:00:01.200  1,234 records  6,170 rec/s  lag 42  rejected 1,234  processing 120 ms  scheduling 3 ms',
    );
    expect(formatStatusLine(base, { timeZone: 'UTC', rejected: 0 })).not.toContain('rejected');
  });

  it('leaves out what it does not know and marks retries and replays', () => {
    const { lag: _lag, processingDelay: _p, schedulingDelay: _s, ...bare } = base;
    expect(formatStatusLine({ ...bare, attempt: 3, replay: true, processingDelay: 12_345 }, { timeZone: 'UTC' })).toBe(
      'batch 12:00:01.200  1,234 records  processing 12.3 s  attempt 3  replay',
    );
  });

  it('formats every batch of a real pipeline', async () => {
    const { ssc } = createPipeline({ clock: createVirtualClock(Date.UTC(2026, 0, 2)), stopWhenIdle: true });
    const lines: string[] = [];
    ssc.addListener({ onBatchCompleted: (info) => lines.push(formatStatusLine(info, { batchIntervalMs: ssc.batchIntervalMs, timeZone: 'UTC' })) });
    await ssc.start();
    await ssc.awaitTermination();
    expect(lines).toEqual([
      'batch 00:00:00.000  20 records  100 rec/s  lag 40  processing 0 ms  scheduling 0 ms',
      'batch 00:00:00.200  20 records  100 rec/s  lag 20  processing 0 ms  scheduling 0 ms',
      'batch 00:00:00.400  20 records  100 rec/s  lag 0  processing 0 ms  scheduling 0 ms',
      'batch 00:00:00.600  0 records  0 rec/s  lag 0  processing 0 ms  scheduling 0 ms',
    ]);
  });
});
