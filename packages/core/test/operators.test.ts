import { describe, expect, it } from 'vitest';
import { Batch, type OutputContext, type PartitionContext } from '../src/index.js';
import { createMemoryLogSource, type MemoryRecord } from '@microbatch/source-memory';
import { collectBatches, logOf, multiset, testContext } from './helpers.js';

const words = [
  ['a', 'b', 'a'],
  ['c', 'a', 'b'],
];

describe('stateless operators (one batch holding everything)', () => {
  it('map, filter, flatMap keep partition order', async () => {
    expect(await collectBatches([[1, 2, 3], [4, 5]], (s) => s.map((x) => x * 10))).toEqual([[10, 20, 30, 40, 50]]);
    expect(await collectBatches([[1, 2, 3], [4, 5]], (s) => s.filter((x) => x % 2 === 1))).toEqual([[1, 3, 5]]);
    expect(await collectBatches([[1, 2], [3]], (s) => s.flatMap((x) => [x, -x]))).toEqual([[1, -1, 2, -2, 3, -3]]);
  });

  it('mapPartitions sees whole partitions and their index', async () => {
    const out = await collectBatches([[1, 2, 3], [4, 5]], (s) => s.mapPartitions((records, id) => [`${id}:${records.join('+')}`]));
    expect(out).toEqual([['0:1+2+3', '1:4+5']]);
  });

  it('union concatenates the partitions of both streams', async () => {
    const out = await collectBatches([[1, 2], [3]], (s) => s.union(s.map((x) => x * 100)));
    expect(out).toEqual([[1, 2, 3, 100, 200, 300]]);
  });

  it('transform gives the batch and its time', async () => {
    const times: number[] = [];
    const out = await collectBatches([[1, 2], [3]], (s) =>
      s.transform((batch, time) => {
        times.push(time);
        return batch.filter((x) => x > 1);
      }),
    );
    expect(out).toEqual([[2, 3]]);
    expect(times.every((t) => t % 1000 === 0)).toBe(true);
  });

  it('repartition keeps every record and spreads them over the requested partitions', async () => {
    const counts: number[][] = [];
    const data = [Array.from({ length: 50 }, (_, i) => i), Array.from({ length: 30 }, (_, i) => 100 + i)];
    const out = await collectBatches(data, (s) =>
      s.repartition(4).transform((batch) => {
        counts.push([batch.numPartitions]);
        return batch;
      }),
    );
    expect(counts[0]).toEqual([4]);
    expect(multiset(out[0]!)).toEqual(multiset(data.flat()));
  });

  it('count, reduce and countByValue', async () => {
    expect(await collectBatches([[1, 2, 3], [4]], (s) => s.count())).toEqual([[4]]);
    expect(await collectBatches([[1, 2, 3], [4]], (s) => s.reduce((a, b) => a + b))).toEqual([[10]]);
    const byValue = await collectBatches(words, (s) => s.countByValue());
    expect(new Map(byValue[0])).toEqual(new Map([['a', 3], ['b', 2], ['c', 1]]));
  });

  it('count on an empty batch is 0 and reduce yields nothing', async () => {
    const counts: number[][] = [];
    const reduced: number[][] = [];
    await collectBatches([[1]], (s) => {
      s.count().foreachBatch(async (b) => void counts.push(await b.collect()), { name: 'counts' });
      s.reduce((a, b) => a + b).foreachBatch(async (b) => void reduced.push(await b.collect()), { name: 'reduced' });
      return s;
    });
    // The last batch found no input: count says 0, reduce has nothing to say.
    expect(counts).toEqual([[1], [0]]);
    expect(reduced).toEqual([[1], []]);
  });
});

describe('pair operators', () => {
  const pairs = (s: import('../src/index.js').DStream<string>) => s.map((w): [string, number] => [w, 1]);

  it('reduceByKey sums per key', async () => {
    const out = await collectBatches(words, (s) => pairs(s).reduceByKey((a, b) => a + b));
    expect(new Map(out[0])).toEqual(new Map([['a', 3], ['b', 2], ['c', 1]]));
    expect(out[0]).toHaveLength(3);
  });

  it('reduceByKey with tuple keys compares keys by value', async () => {
    const out = await collectBatches([[['x', 1], ['x', 1], ['y', 2]], [['x', 1]]], (s) =>
      s.map((k): [[string, number], number] => [k as [string, number], 1]).reduceByKey((a, b) => a + b, 2),
    );
    expect(multiset(out[0]!)).toEqual(multiset([[['x', 1], 3], [['y', 2], 1]]));
  });

  it('groupByKey collects values in input order', async () => {
    const out = await collectBatches([[['k', 1], ['j', 2]], [['k', 3]]], (s) => s.map((r) => r as [string, number]).groupByKey());
    expect(new Map(out[0])).toEqual(new Map([['k', [1, 3]], ['j', [2]]]));
  });

  it('mapValues keeps keys', async () => {
    const out = await collectBatches([[['k', 1]], [['j', 2]]], (s) => s.map((r) => r as [string, number]).mapValues((v) => v * 7));
    expect(out).toEqual([[['k', 7], ['j', 14]]]);
  });

  it('join, leftOuterJoin and cogroup', async () => {
    const data = [[['a', 'L1'], ['b', 'L2'], ['a', 'L3']], [['R:a', 'R1'], ['R:c', 'R2']]] as [string, string][][];
    const build = <U>(fn: (l: import('../src/index.js').DStream<[string, string]>, r: import('../src/index.js').DStream<[string, string]>) => import('../src/index.js').DStream<U>) =>
      collectBatches(data, (s) => {
        const all = s.map((r) => r as [string, string]);
        const left = all.filter(([k]) => !k.startsWith('R:'));
        const right = all.filter(([k]) => k.startsWith('R:')).map(([k, v]): [string, string] => [k.slice(2), v]);
        return fn(left, right);
      });
    expect(multiset((await build((l, r) => l.join(r)))[0]!)).toEqual(multiset([['a', ['L1', 'R1']], ['a', ['L3', 'R1']]]));
    expect(multiset((await build((l, r) => l.leftOuterJoin(r)))[0]!)).toEqual(
      multiset([['a', ['L1', 'R1']], ['a', ['L3', 'R1']], ['b', ['L2', undefined]]]),
    );
    expect(multiset((await build((l, r) => l.cogroup(r)))[0]!)).toEqual(
      multiset([['a', [['L1', 'L3'], ['R1']]], ['b', [['L2'], []]], ['c', [[], ['R2']]]]),
    );
  });

  it('shuffles are deterministic: same input, same partition contents and order', async () => {
    const data = [Array.from({ length: 200 }, (_, i) => `k${i % 37}`), Array.from({ length: 100 }, (_, i) => `k${i % 11}`)];
    const snapshot = async () => {
      const parts: string[][] = [];
      await collectBatches(data, (s) =>
        s.map((w): [string, number] => [w, 1]).reduceByKey((a, b) => a + b, 5).transform((batch) =>
          batch.mapPartitions((records, id) => {
            parts[id] = records.map(([k, v]) => `${k}=${v}`);
            return records;
          }),
        ),
      );
      return parts;
    };
    const first = await snapshot();
    expect(first).toHaveLength(5);
    expect(await snapshot()).toEqual(first);
  });
});

describe('batches across time', () => {
  it('maxRecordsPerPartition splits the input into successive batches, in order', async () => {
    const out = await collectBatches([[1, 2, 3, 4, 5], [6, 7]], (s) => s, { maxRecordsPerPartition: 2 });
    expect(out).toEqual([[1, 2, 6, 7], [3, 4], [5]]);
  });

  it('foreachPartition gives appId, epoch, batchTime, partitionId, attempt and offset ranges', async () => {
    const seen: Array<Pick<PartitionContext, 'batchTime' | 'partitionId' | 'attempt' | 'epoch' | 'partitionRanges' | 'outputName'>> = [];
    await collectBatches([[1, 2], [3]], (s) => {
      s.foreachBatch(
        (batch) =>
          batch.foreachPartition((_records, ctx) => {
            seen.push({ batchTime: ctx.batchTime, partitionId: ctx.partitionId, attempt: ctx.attempt, epoch: ctx.epoch, partitionRanges: ctx.partitionRanges, outputName: ctx.outputName });
          }),
        { name: 'ctx-probe' },
      );
      return s;
    });
    const first = seen.filter((c) => c.batchTime === seen[0]!.batchTime);
    expect(first.map((c) => c.partitionId)).toEqual([0, 1]);
    expect(first[0]).toMatchObject({ attempt: 1, epoch: 1, outputName: 'ctx-probe' });
    expect(first[0]!.partitionRanges).toEqual([{ source: 'input', partition: '0', from: 0, until: 2 }]);
    expect(first[1]!.partitionRanges).toEqual([{ source: 'input', partition: '1', from: 0, until: 1 }]);
    expect(first[0]!.batchTime % 1000).toBe(0);
  });

  it('print writes a header and the first records of each batch', async () => {
    const lines: string[] = [];
    await collectBatches([[1, 2, 3]], (s) => {
      s.print(2, (line) => lines.push(line));
      return s;
    });
    expect(lines.some((l) => l.includes('Time:'))).toBe(true);
    expect(lines).toContain('1');
    expect(lines).toContain('2');
    expect(lines).toContain('...');
    expect(lines).not.toContain('3');
  });
});

describe('Batch', () => {
  it('computes each partition once even when several outputs use it', async () => {
    let reads = 0;
    const batch = new Batch<number>(0, [{ compute: async () => (reads++, [1, 2]), ranges: [] }]);
    const ctx = { appId: 'a', epoch: 1, batchTime: 0, attempt: 1, outputName: 'o', offsetRanges: [] } as unknown as OutputContext;
    await batch.collect();
    await batch.bind(ctx).count();
    await batch.count();
    expect(reads).toBe(1);
  });

  it('foreachPartition fails only after every partition has finished', async () => {
    const finished: number[] = [];
    const batch = Batch.fromPartitions(0, [[1], [2], [3]]).bind({ appId: 'a', epoch: 1, batchTime: 0, attempt: 1, outputName: 'o', offsetRanges: [] } as unknown as OutputContext);
    const error = await batch
      .foreachPartition(async (_records, ctx) => {
        if (ctx.partitionId === 0) throw new Error('first partition fails at once');
        await new Promise((r) => setTimeout(r, 30));
        finished.push(ctx.partitionId);
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe('first partition fails at once');
    expect(finished.sort()).toEqual([1, 2]);
  });

  it('forgets a failed partition so the next attempt recomputes it', async () => {
    let calls = 0;
    const batch = new Batch<number>(0, [{ compute: async () => { calls++; if (calls === 1) throw new Error('boom'); return [1]; }, ranges: [] }]);
    await expect(batch.collect()).rejects.toThrow('boom');
    await expect(batch.collect()).resolves.toEqual([1]);
  });
});

describe('fused narrow transformations', () => {
  const input = [
    [1, 2, 3],
    [4, 5],
  ];
  const ctx = { appId: 'a', epoch: 1, batchTime: 0, attempt: 1, outputName: 'o', offsetRanges: [] } as unknown as OutputContext;

  it('a stage read by its single consumer is streamed to it, not kept', async () => {
    let calls = 0;
    const source = Batch.fromPartitions(0, input);
    const mid = source.map((x) => (calls++, x * 10));
    const out = mid.filter((x) => x > 10);
    expect(await out.bind(ctx).collect()).toEqual([20, 30, 40, 50]);
    expect(calls).toBe(5);
    // Nothing of `mid` was kept, so a reader that was not declared computes it again.
    await mid.collect();
    expect(calls).toBe(10);
  });

  it('runs the functions upstream of several outputs once per record', async () => {
    let calls = 0;
    const out: number[][] = [];
    const ssc = testContext();
    const mapped = ssc.source(createMemoryLogSource(logOf(input), { name: 'input' })).map((r: MemoryRecord<number>) => (calls++, r.value));
    mapped.filter((x) => x % 2 === 0).foreachBatch(async (batch) => void out.push(await batch.collect()));
    mapped.map((x) => -x).foreachBatch(async (batch) => void out.push(await batch.collect()));
    await ssc.start();
    await ssc.awaitTermination();
    expect(calls).toBe(5);
    expect(out.slice(0, 2)).toEqual([[2, 4], [-1, -2, -3, -4, -5]]);
  });

  it('runs the functions upstream of a transform that reads its batch twice once per record', async () => {
    let calls = 0;
    const out = await collectBatches(input, (s) =>
      s.map((x) => (calls++, x)).transform((batch) => batch.filter((x) => x % 2 === 1).union(batch.filter((x) => x % 2 === 0))),
    );
    expect(calls).toBe(5);
    expect(out).toEqual([[1, 3, 5, 2, 4]]);
  });

  it('an output deriving from its batch twice computes it once', async () => {
    let calls = 0;
    const seen: number[][] = [];
    const ssc = testContext();
    const mapped = ssc.source(createMemoryLogSource(logOf(input), { name: 'input' })).map((r: MemoryRecord<number>) => (calls++, r.value));
    mapped.foreachBatch(async (batch) => {
      seen.push(await batch.map((x) => x * 2).collect());
      seen.push(await batch.filter((x) => x > 3).collect());
    });
    await ssc.start();
    await ssc.awaitTermination();
    expect(calls).toBe(5);
    expect(seen.slice(0, 2)).toEqual([[2, 4, 6, 8, 10], [4, 5]]);
  });

  it('an error thrown in a fused stage fails the attempt, and the retry recomputes the batch', async () => {
    let failures = 0;
    const out = await collectBatches(input, (s) =>
      s
        .map((x) => {
          if (x === 4 && failures++ === 0) throw new Error('transient');
          return x;
        })
        .filter((x) => x > 1),
    );
    expect(failures).toBe(2);
    expect(out).toEqual([[2, 3, 4, 5]]);
  });
});
