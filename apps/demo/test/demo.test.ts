import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '@microbatch/core';
import { pageOf, runDemo } from '../src/pipeline.js';

describe('demo pipeline', () => {
  it('counts every generated view once, and a second run over the same checkpoints finds nothing new', async () => {
    const checkpointDir = mkdtempSync(join(tmpdir(), 'mb-demo-'));
    const lines: string[] = [];
    const options = { checkpointDir, events: 2000, partitions: 4, batchIntervalMs: 20, logger: silentLogger, write: (l: string) => lines.push(l) };
    const totals = await runDemo(options);
    const expected = new Map<string, number>();
    for (let p = 0; p < 4; p++) for (let o = 0; o < 500; o++) expected.set(pageOf(p, o), (expected.get(pageOf(p, o)) ?? 0) + 1);
    expect(totals).toEqual(expected);
    expect(lines.length).toBeGreaterThanOrEqual(5);
    const again = await runDemo(options);
    expect(again.size).toBe(0);
  });
});
