import type { Sink } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { createMemorySinkData, createMemoryTransactionalSink, sinkSuite, type MemorySinkData } from '../src/index.js';

type Row = { key: string; value: number };

// The reference implementation: the suite's own test that it holds a correct sink to its promise.
const stores = new Map<string, MemorySinkData<Row>>();
const data = (target: string) => {
  let d = stores.get(target);
  if (!d) stores.set(target, (d = createMemorySinkData<Row>()));
  return d;
};

sinkSuite<Row>({
  describe,
  it,
  name: 'memory transactional sink',
  createSink: (target) => createMemoryTransactionalSink<Row>({ name: 'out', data: data(target) }),
  async readBack(target) {
    const d = data(target);
    // A replay that computed different records is itself a failure, whatever the rows look like.
    const committed = [...d.committed.entries()].map(([marker, { records }]) => [marker, records] as const);
    return { committed: committed.sort(([a], [b]) => (a < b ? -1 : 1)), mismatches: d.mismatches };
  },
  record: (batchTime, partitionId, index) => ({ key: `${batchTime}/${partitionId}/${index}`, value: index * 7 }),
  async cleanup(target) {
    stores.delete(target);
  },
});

// The suite must be able to fail: a sink that appends without markers duplicates on replay,
// and one without fencing lets a zombie write. Run the suite's tests by hand against them.
describe('sink conformance suite catches broken sinks', () => {
  const collect = (sink: (target: string) => Sink<Row>, readBack: (target: string) => Promise<unknown>) => {
    const tests = new Map<string, () => Promise<void>>();
    sinkSuite<Row>({
      describe: (_name, fn) => fn(),
      it: (name, fn) => tests.set(name, fn),
      name: 'broken',
      createSink: sink,
      readBack,
      record: (batchTime, partitionId, index) => ({ key: `${batchTime}/${partitionId}/${index}`, value: index }),
    });
    return tests;
  };

  const appended = new Map<string, Row[]>();
  const appendOnly = (target: string): Sink<Row> => ({
    name: 'append',
    guarantee: 'transactional',
    async write(batch) {
      const rows = await batch.collect();
      appended.set(target, [...(appended.get(target) ?? []), ...rows]);
    },
  });
  const tests = collect(appendOnly, async (target) => appended.get(target) ?? []);

  it('an append-only sink fails the replay test', async () => {
    await expect(tests.get('replaying the latest batch any number of times equals one clean write')!()).rejects.toThrow(/differs from one clean write/);
  });

  it('a sink without fencing fails the stale-epoch test', async () => {
    await expect(tests.get('a stale epoch is refused with FencedError and writes nothing')!()).rejects.toThrow();
  });
});
