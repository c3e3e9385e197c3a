import { createMemoryLogSource, type MemoryRecord } from '@microbatch/source-memory';
import { describe, expect, it } from 'vitest';
import { silentLogger, type Logger, type OffsetRange, type Source, type StreamingContextOptions } from '../src/index.js';
import { logOf, testContext } from './helpers.js';

const input = [
  Array.from({ length: 10 }, (_, i) => i),
  Array.from({ length: 10 }, (_, i) => 100 + i),
];
const rangeOf = (r: OffsetRange) => `${r.partition}:${r.from}-${r.until}`;

interface Read {
  readonly range: string;
  readonly batchTime: number;
}

/** Runs the input through one output and returns the event timeline, the reads and the batches. */
async function run(options: Partial<StreamingContextOptions>, wrap: (source: Source<MemoryRecord<number>>) => Source<MemoryRecord<number>> = (s) => s) {
  const timeline: string[] = [];
  const reads: Read[] = [];
  const memory = createMemoryLogSource(logOf(input), { name: 'input' });
  const inner = wrap(memory);
  const recording: Source<MemoryRecord<number>> = {
    ...inner,
    name: inner.name,
    latestOffsets: () => inner.latestOffsets(),
    startOffsets: (ids, reason) => inner.startOffsets(ids, reason),
    read: async (range, context) => {
      reads.push({ range: rangeOf(range), batchTime: context.batchTime });
      timeline.push(`read ${rangeOf(range)}`);
      return inner.read(range, context);
    },
  };
  const batches: number[][] = [];
  const ssc = testContext({ maxRecordsPerPartition: 3, readAhead: true, ...options });
  ssc.source(recording).foreachBatch(async (batch, context) => {
    timeline.push(`output ${context.batchTime} starts`);
    batches.push((await batch.collect()).map((r) => r.value));
    await new Promise((resolve) => setImmediate(resolve));
    timeline.push(`output ${context.batchTime} ends`);
  });
  await ssc.start();
  await ssc.awaitTermination();
  return { timeline, reads, batches: batches.filter((b) => b.length > 0) };
}

const expectedBatches = [
  [0, 1, 2, 100, 101, 102],
  [3, 4, 5, 103, 104, 105],
  [6, 7, 8, 106, 107, 108],
  [9, 109],
];

describe('read-ahead', () => {
  it("reads the next batch's certain ranges while the current batch's outputs run, each range once", async () => {
    const { timeline, reads, batches } = await run({});
    expect(batches).toEqual(expectedBatches);
    // Every range read exactly once.
    const ranges = reads.map((r) => r.range);
    expect(new Set(ranges).size).toBe(ranges.length);
    expect(ranges.sort()).toEqual(['0:0-3', '0:3-6', '0:6-9', '0:9-10', '1:0-3', '1:3-6', '1:6-9', '1:9-10'].sort());
    // The second batch's ranges were read before the first batch's output ended.
    const firstOutputEnds = timeline.findIndex((e) => /^output \d+ ends$/.test(e));
    expect(timeline.indexOf('read 0:3-6')).toBeLessThan(firstOutputEnds);
    expect(timeline.indexOf('read 1:3-6')).toBeLessThan(firstOutputEnds);
    // The last ranges were not certain (a backlog of 1 < the cap of 3): read by their own batch.
    const lastReads = reads.filter((r) => r.range.endsWith('9-10'));
    const secondToLast = reads.find((r) => r.range === '0:6-9')!;
    expect(lastReads.every((r) => r.batchTime > secondToLast.batchTime)).toBe(true);
  });

  it('by default (readAhead: false) every batch reads its own ranges, after the previous output ended', async () => {
    const { timeline, batches } = await run({ readAhead: undefined });
    expect(batches).toEqual(expectedBatches);
    const firstOutputEnds = timeline.findIndex((e) => /^output \d+ ends$/.test(e));
    expect(timeline.indexOf('read 0:3-6')).toBeGreaterThan(firstOutputEnds);
  });

  it('does not read ahead under backpressure, whose rate makes the next ranges uncertain', async () => {
    const { timeline, batches } = await run({ backpressure: { initialRate: 1_000_000 } });
    expect(batches).toEqual(expectedBatches);
    const firstOutputEnds = timeline.findIndex((e) => /^output \d+ ends$/.test(e));
    expect(timeline.indexOf('read 0:3-6')).toBeGreaterThan(firstOutputEnds);
  });

  it('a failed read-ahead is logged and the batch reads the range itself', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (_obj: unknown, msg?: string) => void warnings.push(String(msg)), child: () => logger };
    let failed = false;
    const { reads, batches } = await run({ logger }, (source) => ({
      ...source,
      read: async (range, context) => {
        if (rangeOf(range) === '1:3-6' && !failed) {
          failed = true;
          throw new Error('broker went away');
        }
        return source.read(range, context);
      },
    }));
    expect(batches).toEqual(expectedBatches);
    expect(reads.filter((r) => r.range === '1:3-6')).toHaveLength(2);
    expect(warnings).toContain('reading ahead failed; the batch will read the range itself');
  });

  it('rejects a readAhead that is not a boolean', () => {
    expect(() => testContext({ readAhead: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });
});
