import { MicrobatchError, type Sink } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { createMemorySinkData, createMemoryTransactionalSink, parseMarker, sinkSuite, type MemorySinkData } from '../src/index.js';

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
  guarantee: 'transactional',
  // The engine's own tests read every marker the memory sink ever committed, so it never prunes.
  features: { retire: false },
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
  const collect = (
    sink: (target: string) => Sink<Row>,
    readBack: (target: string) => Promise<unknown>,
    features?: { retire?: boolean; fencing?: boolean },
    guarantee: Sink<Row>['guarantee'] = 'transactional',
  ) => {
    const tests = new Map<string, () => Promise<void>>();
    sinkSuite<Row>({
      describe: (_name, fn) => fn(),
      it: (name, fn) => tests.set(name, fn),
      name: 'broken',
      guarantee,
      features,
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
  const tests = collect(appendOnly, async (target) => appended.get(target) ?? [], { retire: false });

  it('an append-only sink fails the replay test', async () => {
    await expect(tests.get('replaying the latest batch any number of times equals one clean write')!()).rejects.toThrow(/differs from one clean write/);
  });

  it('a sink without fencing fails the stale-epoch test', async () => {
    await expect(tests.get('a zombie (older epoch) is refused with FencedError once a newer epoch wrote, and writes nothing')!()).rejects.toThrow(/FENCED|Missing expected rejection/);
  });

  // A correct memory sink, except for one method at a time. Markers a broken retire prunes keep
  // their records (a real sink prunes markers, never data), so a replay they no longer stop shows.
  const brokenStores = new Map<string, { data: MemorySinkData<Row>; retired: Row[] }>();
  const broken = (target: string) => brokenStores.get(target) ?? brokenStores.set(target, { data: createMemorySinkData<Row>(), retired: [] }).get(target)!;
  const readCommitted = async (target: string) =>
    [...[...broken(target).data.committed.values()].flatMap((c) => c.records), ...broken(target).retired].map((r) => r.key).sort();
  const lastTest = 'lastCommittedBatch is the newest batch committed for the app, read by another instance, after replays and retire';

  it('a sink whose lastCommittedBatch reports the first batch, or ignores the app id, fails the lastCommittedBatch test', async () => {
    const first = collect((target) => {
      const { data } = broken(target);
      const sink = createMemoryTransactionalSink<Row>({ name: 'out', data });
      const lastCommittedBatch = async () => (data.committed.size === 0 ? undefined : parseMarker([...data.committed.keys()][0]!).batchTime);
      return { ...sink, lastCommittedBatch };
    }, readCommitted, { retire: false });
    await expect(first.get(lastTest)!()).rejects.toThrow(/after committing t1 < t2/);
    const anyApp = collect((target) => {
      const { data } = broken(target);
      const sink = createMemoryTransactionalSink<Row>({ name: 'out', data });
      const anyApp = () => (data.committed.size === 0 ? '' : parseMarker([...data.committed.keys()][0]!).appId);
      return { ...sink, lastCommittedBatch: () => sink.lastCommittedBatch!({ appId: anyApp() }) };
    }, readCommitted, { retire: false });
    await expect(anyApp.get(lastTest)!()).rejects.toThrow(/an app that never wrote/);
  });

  it('a sink whose retire prunes the newest batch fails the lastCommittedBatch test, and one that prunes too much fails the retire test', async () => {
    const pruning = (all: boolean) => (target: string) => {
      const { data, retired } = broken(target);
      const sink = createMemoryTransactionalSink<Row>({ name: 'out', data });
      return {
        ...sink,
        // Prunes every marker below `before` (the newest batch's too), or with `all` every marker.
        async retire({ before }: { before: number }) {
          for (const [marker, { records }] of [...data.committed]) {
            if (!all && parseMarker(marker).batchTime >= before) continue;
            data.committed.delete(marker);
            retired.push(...records);
          }
        },
      };
    };
    await expect(collect(pruning(false), readCommitted).get(lastTest)!()).rejects.toThrow(/retire pruned the newest batch/);
    await expect(collect(pruning(true), readCommitted).get('retire keeps batches that may still be replayed exactly-once')!()).rejects.toThrow(/differs from one clean write/);
  });

  it('an idempotent sink that skips a batch it already began fails the crash test (a partial write, then the replay)', async () => {
    const stores = new Map<string, Map<string, number>>();
    const store = (target: string) => stores.get(target) ?? stores.set(target, new Map()).get(target)!;
    const begun = new Map<string, Set<number>>();
    const skipsBegun = (target: string): Sink<Row> => ({
      name: 'kv',
      guarantee: 'idempotent',
      async write(batch, context) {
        const seen = begun.get(target) ?? begun.set(target, new Set()).get(target)!;
        if (seen.has(context.batchTime)) return; // wrong: the batch may have been cut short
        const rows = await batch.collect();
        seen.add(context.batchTime);
        for (const row of rows) store(target).set(row.key, row.value);
      },
    });
    const tests = collect(skipsBegun, async (target) => [...store(target)].sort(), { fencing: false }, 'idempotent');
    // Either the final state misses the rest of the batch, or a later crashing attempt "succeeds" without reading it.
    await expect(tests.get('a crash after a random subset of partitions, then a replay, equals one clean write')!()).rejects.toThrow(
      /differs from one clean write|Missing expected rejection/,
    );
  });

  it('a sink that half-writes a partition before refusing a bad record fails the bad-record test; one that checks first passes it', async () => {
    const badTest = 'a write refused for a bad record leaves nothing half-written; the clean replay completes the batch once';
    const refuse = (row: Row) => {
      if (row.value < 0) throw new MicrobatchError('INVALID_RECORD', `record ${row.key} has a negative value`);
    };
    const withBad = (sink: (target: string) => Sink<Row>) => {
      const tests = new Map<string, () => Promise<void>>();
      sinkSuite<Row>({
        describe: (_name, fn) => fn(),
        it: (name, fn) => tests.set(name, fn),
        name: 'bad records',
        guarantee: 'transactional',
        features: { retire: false },
        createSink: sink,
        readBack: readCommitted,
        record: (batchTime, partitionId, index) => ({ key: `${batchTime}/${partitionId}/${index}`, value: index }),
        badRecord: (batchTime, partitionId, index) => ({ key: `${batchTime}/${partitionId}/${index}`, value: -1 }),
      });
      return tests.get(badTest)!;
    };
    // Checks every record of a partition before committing it: nothing of the refused partition lands.
    const checking = (target: string): Sink<Row> => {
      const sink = createMemoryTransactionalSink<Row>({ name: 'out', data: broken(target).data });
      return {
        ...sink,
        write: (batch, context) => sink.write(batch.mapPartitions((records) => (records.forEach(refuse), records)).bind(context), context),
      };
    };
    await withBad(checking)();
    // Writes records one by one (as a producer sends them) and fails at the bad one: the ones before stay.
    const halfWriting = (target: string): Sink<Row> => {
      const sink = createMemoryTransactionalSink<Row>({ name: 'out', data: broken(target).data });
      return {
        ...sink,
        async write(batch, context) {
          await batch.foreachPartition(async (records) => {
            for (const row of records) {
              refuse(row);
              broken(target).retired.push(row);
            }
          });
          await sink.write(batch, context);
        },
      };
    };
    await expect(withBad(halfWriting)()).rejects.toThrow(/differs from one clean write/);
  });

  it('a transactional sink cannot switch fencing off, and a sink must report the guarantee the suite tests', async () => {
    const options = { describe: () => {}, it: () => {}, name: 'x', createSink: () => createMemoryTransactionalSink<Row>(), readBack: async () => [], record: () => ({ key: 'k', value: 1 }) };
    expect(() => sinkSuite<Row>({ ...options, guarantee: 'transactional', features: { fencing: false } })).toThrow(/must fence zombies/);
    const tests = new Map<string, () => Promise<void>>();
    sinkSuite<Row>({ ...options, guarantee: 'idempotent', it: (name, fn) => void tests.set(name, fn), describe: (_n, fn) => fn() });
    await expect(tests.get('close() is safe to call twice')!()).rejects.toThrow(/guarantee differs/);
  });
});
