import { describe, expect, it } from 'vitest';
import { createQueueSource } from '@microbatch/source-memory';
import { MicrobatchError, type DStream } from '../src/index.js';
import { START, testContext } from './helpers.js';

/** One pushed array per batch: batch i holds exactly batches[i]; the run ends with one empty batch. */
async function perBatch<T, U>(batches: T[][], build: (s: DStream<T>) => DStream<U>): Promise<Array<{ time: number; records: U[] }>> {
  const ssc = testContext();
  const queue = createQueueSource<T>({ name: 'queue' });
  for (const b of batches) queue.push(b);
  const out: Array<{ time: number; records: U[] }> = [];
  build(ssc.source(queue)).foreachBatch(async (batch, ctx) => void out.push({ time: ctx.batchTime - START, records: await batch.collect() }));
  await ssc.start();
  await ssc.awaitTermination();
  return out;
}

describe('windows', () => {
  it('window(3s) slides every batch by default', async () => {
    const out = await perBatch([[1], [2], [3], [4]], (s) => s.window(3000));
    expect(out.map((o) => o.records)).toEqual([[1], [1, 2], [1, 2, 3], [2, 3, 4], [3, 4]]);
  });

  it('window(3s, 2s) has batches only at slide times', async () => {
    const out = await perBatch([[1], [2], [3], [4]], (s) => s.window(3000, 2000));
    expect(out).toEqual([
      { time: 0, records: [1] },
      { time: 2000, records: [1, 2, 3] },
      { time: 4000, records: [3, 4] }, // (1000, 4000]: the batch at 1000 holding 2 has left
    ]);
  });

  it('countByWindow and reduceByWindow', async () => {
    expect((await perBatch([[1, 1], [2], [3, 3, 3]], (s) => s.countByWindow(2000))).map((o) => o.records)).toEqual([[2], [3], [4], [3]]);
    expect((await perBatch([[1, 1], [2], [3, 3, 3]], (s) => s.reduceByWindow((a, b) => a + b, 2000))).map((o) => o.records)).toEqual([[2], [4], [11], [9]]);
  });

  it('reduceByKeyAndWindow gives the same values with and without an inverse function', async () => {
    const data = [['a', 'b'], ['a'], ['c', 'a'], ['b'], [], ['a']];
    const pairs = (s: DStream<string>) => s.map((w): [string, number] => [w, 1]);
    const plain = await perBatch(data, (s) => pairs(s).reduceByKeyAndWindow((a, b) => a + b, 3000, 1000));
    const incremental = await perBatch(data, (s) =>
      pairs(s).reduceByKeyAndWindow((a, b) => a + b, 3000, 1000, { inverse: (a, b) => a - b, filter: ([, v]) => v !== 0, name: 'win' }),
    );
    const asMaps = (out: typeof plain) => out.map((o) => new Map(o.records));
    expect(asMaps(incremental)).toEqual(asMaps(plain));
    expect(asMaps(plain)[2]).toEqual(new Map([['a', 3], ['b', 1], ['c', 1]]));
    expect(asMaps(plain)[4]).toEqual(new Map([['a', 1], ['b', 1], ['c', 1]]));
    expect(asMaps(plain)[5]).toEqual(new Map([['a', 1], ['b', 1]]));
  });

  it('without the filter, keys back at zero stay, as in Spark', async () => {
    const out = await perBatch([['a'], []], (s) =>
      s.map((w): [string, number] => [w, 1]).reduceByKeyAndWindow((a, b) => a + b, 1000, 1000, { inverse: (a, b) => a - b, name: 'w' }),
    );
    // Two queued batches and the final idle one.
    expect(out.map((o) => o.records)).toEqual([[['a', 1]], [['a', 0]], [['a', 0]]]);
  });
});

describe('window validation', () => {
  const stream = () => {
    const ssc = testContext({ batchIntervalMs: 1000 });
    return ssc.source(createQueueSource<number>({ name: 'q' }));
  };
  const error = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      return e as MicrobatchError;
    }
    throw new Error('no error');
  };

  it('a window that is not a multiple of the interval names the values', () => {
    const e = error(() => stream().window(1500));
    expect(e).toMatchObject({ code: 'INVALID_OPTION', details: { option: 'windowMs', value: { value: 1500, batchIntervalMs: 1000 } } });
    expect(e.message).toContain('1500');
    expect(e.message).toContain('1000');
  });

  it('a slide that is not a multiple, a zero window, a stateful window without a name', () => {
    expect(error(() => stream().window(2000, 700)).code).toBe('INVALID_OPTION');
    expect(error(() => stream().window(0)).code).toBe('INVALID_OPTION');
    const pairs = stream().map((x): [number, number] => [x, x]);
    expect(error(() => pairs.reduceByKeyAndWindow((a, b) => a + b, 2000, 1000, { inverse: (a, b) => a - b })).code).toBe('INVALID_OPTION');
    expect(error(() => testContext({ batchIntervalMs: 1000, checkpointIntervalMs: 2500 })).code).toBe('INVALID_OPTION');
  });

  it('a window over a stateful stream is refused', () => {
    const counts = stream().map((x): [number, number] => [x, 1]).updateStateByKey<number, number, number>((vs, s) => (s ?? 0) + vs.length, { name: 'counts' });
    expect(error(() => counts.window(2000)).code).toBe('INVALID_OPTION');
  });
});
