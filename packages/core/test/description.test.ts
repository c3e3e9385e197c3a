import { createGeneratorSource } from '@microbatch/source-memory';
import { createMemoryTransactionalSink } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { testContext } from './helpers.js';

describe('StreamingContext.description', () => {
  it('lists sources, stateful operators, outputs with their guarantees and the checkpoint store, before and after start', async () => {
    const ssc = testContext();
    const source = (name: string) => createGeneratorSource({ name, partitions: 2, recordsPerPartition: 3, generate: ({ offset }) => `w${offset % 2}` });
    const words = ssc.source(source('words')).union(ssc.source(source('more-words'))).map((w): [string, number] => [w, 1]);
    words.updateStateByKey<string, number, number>((v, t) => (t ?? 0) + v.length, { name: 'totals' }).to(createMemoryTransactionalSink({ name: 'totals-out' }));
    words.reduceByKeyAndWindow((a, b) => a + b, 2000, 1000, { inverse: (a, b) => a - b, name: 'window-counts' }).foreachBatch(async () => {}, { name: 'log' });
    const expected = {
      appId: ssc.appId,
      batchIntervalMs: 1000,
      sources: ['words', 'more-words'],
      operators: ['totals', 'window-counts'],
      outputs: [{ name: 'totals-out', guarantee: 'transactional' }, { name: 'log' }],
      checkpointStore: 'memory',
      shuffles: ['keyed state "totals"', 'keyed state "window-counts"'],
    };
    expect(ssc.description).toEqual(expected);
    await ssc.start();
    await ssc.awaitTermination();
    expect(ssc.description).toEqual(expected);
  });
});
