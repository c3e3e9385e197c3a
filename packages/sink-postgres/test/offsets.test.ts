import { Batch, isMicrobatchError, silentLogger, type OffsetRange, type Source } from '@microbatch/core';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRows, postgresSink, readCommittedOffsets, withCommittedOffsets } from '../src/index.js';
import { createEventsTable, createPool, dropAll, randomName } from './support/db.js';

type Event = { k: string; v: number };
const pool = createPool();
afterAll(() => pool.end());

const range = (partition: string, from: number, until: number): OffsetRange => ({ source: 'events', partition, from, until });
const rows = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ k: `${tag}${i}`, v: i }));

async function setup(granularity: 'partition' | 'batch' = 'partition') {
  const table = randomName();
  await createEventsTable(pool, table);
  const appId = randomName('app');
  const options = { appId, outputName: 'events-out', tablePrefix: `${table}_` };
  let failPartition: number | undefined;
  const sink = postgresSink<Event>({
    pool,
    name: 'events-out',
    tablePrefix: `${table}_`,
    granularity,
    storeOffsets: true,
    async write(tx, records, ctx) {
      await appendRows(tx, records, { table, columns: ['k', 'v'] });
      if (ctx.partitionId === failPartition) throw new Error('crash before commit');
    },
  });
  const write = (time: number, partitions: Event[][], ranges: OffsetRange[][], fail?: number) => {
    failPartition = fail;
    const context = { appId, epoch: 1, batchTime: time, attempt: 1, outputName: sink.name, offsetRanges: ranges.flat(), signal: new AbortController().signal, logger: silentLogger };
    return sink.write(Batch.fromPartitions(time, partitions, ranges).bind(context), context);
  };
  return { table, sink, write, options, done: async () => (await sink.close(), await dropAll(pool, `${table}_`, table)) };
}

describe('offsets stored with the data', () => {
  it('per partition: each source partition resumes after exactly what was committed for it', async () => {
    const t = await setup();
    try {
      await t.write(1000, [rows(3, 'a'), rows(2, 'b')], [[range('0', 0, 3)], [range('1', 0, 2)]]);
      // Partition 1 of the next batch crashes before its commit: its source partition stays behind.
      await expect(t.write(2000, [rows(4, 'c'), rows(5, 'd')], [[range('0', 3, 7)], [range('1', 2, 7)]], 1)).rejects.toThrow(/crash before commit/);
      expect(await readCommittedOffsets(pool, t.options)).toEqual({ events: { '0': 7, '1': 2 } });
    } finally {
      await t.done();
    }
  });

  it('after a shuffle, shared ranges count only once every partition committed; a partial shuffled batch is refused', async () => {
    const t = await setup();
    try {
      const shared = [range('0', 0, 10), range('1', 0, 6)];
      await t.write(1000, [rows(8, 'a'), rows(8, 'b')], [shared, shared]);
      expect(await readCommittedOffsets(pool, t.options)).toEqual({ events: { '0': 10, '1': 6 } });
      const next = [range('0', 10, 12), range('1', 6, 9)];
      await expect(t.write(2000, [rows(2, 'c'), rows(3, 'd')], [next, next], 0)).rejects.toThrow(/crash before commit/);
      // Partition 1's rows came from both source partitions: no offset can express that, so refuse.
      const error = await readCommittedOffsets(pool, t.options).catch((e: unknown) => e);
      expect(isMicrobatchError(error, 'SINK_FAILED')).toBe(true);
      expect((error as { details: object }).details).toMatchObject({ batchTime: 2000, reason: 'partial-shared-batch' });
      // The replay (from the checkpoint) completes the batch, and the offsets move on.
      await t.write(2000, [rows(2, 'c'), rows(3, 'd')], [next, next]);
      expect(await readCommittedOffsets(pool, t.options)).toEqual({ events: { '0': 12, '1': 9 } });
    } finally {
      await t.done();
    }
  });

  it('per batch: offsets move with the whole batch', async () => {
    const t = await setup('batch');
    try {
      const ranges = [[range('0', 0, 3)], [range('1', 0, 2)]];
      await t.write(1000, [rows(3, 'a'), rows(2, 'b')], ranges);
      expect(await readCommittedOffsets(pool, t.options)).toEqual({ events: { '0': 3, '1': 2 } });
    } finally {
      await t.done();
    }
  });

  it('withCommittedOffsets: a source starts from the database where it has offsets, and as usual elsewhere', async () => {
    const t = await setup();
    try {
      await t.write(1000, [rows(3, 'a')], [[range('0', 0, 3)]]);
      const asked: string[][] = [];
      const source: Source<Event> = {
        name: 'events',
        latestOffsets: async () => ({ '0': 10, '1': 10 }),
        startOffsets: async (partitions) => (asked.push([...partitions]), Object.fromEntries(partitions.map((p) => [p, 0]))),
        read: async () => [],
      };
      const resumed = withCommittedOffsets(source, pool, t.options);
      expect(resumed.name).toBe('events');
      expect(await resumed.startOffsets(['0', '1'], 'initial')).toEqual({ '0': 3, '1': 0 });
      expect(asked).toEqual([['1']]);
    } finally {
      await t.done();
    }
  });
});
