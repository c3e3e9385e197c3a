import { createVirtualClock, type BatchInfo } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { GroupTracker, formatGroupStatus, formatStatusLine } from '../src/index.js';
import { createGroupMember } from './support/group.js';
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

describe('a group member on the status line', () => {
  it('names the task of each batch, and the tasks owned, rebalances and lag per task of a real group member', async () => {
    const member = createGroupMember({ initial: [0, 2], clock: createVirtualClock(Date.UTC(2026, 0, 2)), stopWhenIdle: true });
    const tracker = new GroupTracker();
    member.group.addListener(tracker.listener);
    const lines: string[] = [];
    const statuses: string[] = [];
    member.group.addListener({
      onAssignment: () => statuses.push(formatGroupStatus(tracker.view)),
      forTask: (task) => ({
        onBatchCompleted: (info) => {
          lines.push(formatStatusLine(info, { task, timeZone: 'UTC' }).replace(/  processing.*/, ''));
          statuses.push(formatGroupStatus(tracker.view));
        },
      }),
    });
    await member.group.start();
    await member.group.awaitTermination();
    // Tasks 0 and 2 each read their own partition (30 records, 10 a batch); task 1 is another member's.
    expect(lines.filter((l) => l.startsWith('task 0 ')).map((l) => l.replace(/^task 0  /, ''))).toEqual([
      'batch 00:00:00.000  10 records  lag 20',
      'batch 00:00:00.200  10 records  lag 10',
      'batch 00:00:00.400  10 records  lag 0',
      'batch 00:00:00.600  0 records  lag 0',
    ]);
    expect(lines.filter((l) => l.startsWith('task 2 ')).length).toBe(4);
    expect(lines.some((l) => l.startsWith('task 1 '))).toBe(false);
    expect(statuses[0]).toBe('tasks 0,2  rebalances 0  lag 0:– 2:–');
    expect(statuses.at(-1)).toBe('tasks 0,2  rebalances 0  lag 0:0 2:0');
  });

  it('counts rebalances and shows the lag of the tasks owned now', () => {
    expect(
      formatGroupStatus({
        tasks: [1, 3],
        rebalances: 2,
        taskRows: [
          { task: 0, state: 'revoked', lag: 99 },
          { task: 1, state: 'running', epoch: 2, lag: 1234 },
          { task: 3, state: 'running', epoch: 1 },
        ],
      }),
    ).toBe('tasks 1,3  rebalances 2  lag 1:1,234 3:–');
    expect(formatGroupStatus({ tasks: [], rebalances: 1, taskRows: [] })).toBe('tasks none  rebalances 1');
  });
});
