import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MicrobatchError, silentLogger, type ReadContext } from '@microbatch/core';
import { MemoryLog, createGeneratorSource, createMemoryLogSource, createQueueSource } from '../src/index.js';

const ctx: ReadContext = { appId: 'a', batchTime: 0, attempt: 1, signal: new AbortController().signal, logger: silentLogger };
const range = (partition: string, from: number, until: number) => ({ source: 's', partition, from, until });

describe('memory log source', () => {
  it('reads exactly the requested range with offsets', async () => {
    const log = new MemoryLog<string>(2);
    log.append(0, 'a', 'b', 'c');
    log.append(1, 'x');
    const source = createMemoryLogSource(log, { name: 's' });
    expect(await source.latestOffsets()).toEqual({ '0': 3, '1': 1 });
    expect(await source.read(range('0', 1, 3), ctx)).toEqual([
      { partition: '0', offset: 1, value: 'b' },
      { partition: '0', offset: 2, value: 'c' },
    ]);
  });

  it('a range beyond the log is OFFSET_OUT_OF_RANGE, not a short read', async () => {
    const log = new MemoryLog<string>(1);
    log.append(0, 'a');
    const source = createMemoryLogSource(log, { name: 's' });
    await expect(source.read(range('0', 0, 2), ctx)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    await expect(source.read(range('7', 0, 1), ctx)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
  });

  it("startingOffsets 'latest' applies to the first start; partitions discovered later start at 0", async () => {
    const log = new MemoryLog<string>(1);
    log.append(0, 'old', 'older');
    const source = createMemoryLogSource(log, { name: 's', startingOffsets: 'latest' });
    expect(await source.startOffsets(['0'], 'initial')).toEqual({ '0': 2 });
    const added = log.addPartition();
    log.append(added, 'new');
    expect(await source.startOffsets([String(added)], 'discovered')).toEqual({ '1': 0 });
  });

  it('rejects bad options with INVALID_OPTION', () => {
    expect(() => new MemoryLog(0)).toThrow(MicrobatchError);
    expect(() => createMemoryLogSource(new MemoryLog(1), { name: '' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => createMemoryLogSource(new MemoryLog(1), { name: 's', startingOffsets: 'middle' as 'latest' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
  });
});

describe('queue source', () => {
  it('makes one batch per pushed array and replays it identically', async () => {
    const queue = createQueueSource<number>({ name: 'q' });
    queue.push([1, 2]);
    queue.push([3]);
    expect(queue.maxRecordsPerPartition).toBe(1);
    expect(await queue.latestOffsets()).toEqual({ '0': 2 });
    expect(await queue.read(range('0', 0, 1), ctx)).toEqual([1, 2]);
    expect(await queue.read(range('0', 1, 2), ctx)).toEqual([3]);
    expect(await queue.read(range('0', 0, 1), ctx)).toEqual([1, 2]);
  });
});

describe('generator source', () => {
  const options = {
    name: 'gen',
    partitions: 3,
    recordsPerPartition: 100,
    seed: 7,
    generate: ({ seed, partition, offset }: { seed: number; partition: number; offset: number }) => `${seed}:${partition}:${(offset * 2654435761) % 1000}`,
  };

  it('is a pure function of (seed, partition, offset), even in another process', async () => {
    const here = await createGeneratorSource(options).read(range('2', 10, 15), ctx);
    const tsx = createRequire(import.meta.url).resolve('tsx');
    const script = fileURLToPath(new URL('./fixtures/generate.ts', import.meta.url));
    const there = JSON.parse(execFileSync(process.execPath, ['--import', tsx, script], { encoding: 'utf8' }));
    expect(there).toEqual(here);
    expect(here).toHaveLength(5);
  });

  it('releases records at the configured rate but never changes their contents', async () => {
    let now = 0;
    const source = createGeneratorSource({ ...options, ratePerPartition: 10, now: () => now });
    await source.open?.({ appId: 'a', logger: silentLogger });
    expect(await source.latestOffsets()).toEqual({ '0': 0, '1': 0, '2': 0 });
    now = 1500;
    expect(await source.latestOffsets()).toEqual({ '0': 15, '1': 15, '2': 15 });
    now = 1_000_000;
    expect((await source.latestOffsets())['0']).toBe(100);
  });

  it('takes a record count per partition', async () => {
    const source = createGeneratorSource({ ...options, recordsPerPartition: (p: number) => 10 - p });
    expect(await source.latestOffsets()).toEqual({ '0': 10, '1': 9, '2': 8 });
    await expect(source.read(range('2', 0, 9), ctx)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    expect(() => createGeneratorSource({ ...options, recordsPerPartition: () => -1 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('rejects bad options and out-of-range reads', async () => {
    expect(() => createGeneratorSource({ ...options, partitions: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => createGeneratorSource({ ...options, generate: undefined as never })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    await expect(createGeneratorSource(options).read(range('0', 99, 101), ctx)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
  });
});
