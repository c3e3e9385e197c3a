import {
  StreamingContext,
  createMemoryCheckpointData,
  createMemoryCheckpointStore,
  createVirtualClock,
  isMicrobatchError,
  silentLogger,
  type MemoryCheckpointData,
  type StreamingContextOptions,
} from '@microbatch/core';
import { MemoryLog, createMemoryLogSource } from '@microbatch/source-memory';
import { createCrashSwitch } from '@microbatch/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { appendRows, postgresSink, quoteIdent, readCommittedOffsets, withCommittedOffsets } from '../src/index.js';
import { createEventsTable, createPool, dropAll, randomName } from './support/db.js';

const pool = createPool();
afterAll(() => pool.end());

const START = 1_700_000_000_000;
type Row = { k: string; v: number; payload: string };

interface World {
  appId: string;
  table: string;
  log: MemoryLog<string>;
  checkpoint: MemoryCheckpointData;
}

async function newWorld(): Promise<World> {
  const table = randomName();
  await createEventsTable(pool, table);
  const log = new MemoryLog<string>(3);
  for (let p = 0; p < 3; p++) for (let i = 0; i < 7 + p; i++) log.append(p, `r${p}-${i}`);
  return { appId: randomName('app'), table, log, checkpoint: createMemoryCheckpointData() };
}

/** One process: a context over the world's durable state (log, checkpoint, database). */
function processOf(world: World, options: Partial<StreamingContextOptions> & { resumeFromDatabase?: boolean; badRecord?: string } = {}) {
  const { resumeFromDatabase, badRecord, ...contextOptions } = options;
  const ssc = new StreamingContext({
    appId: world.appId,
    batchIntervalMs: 1000,
    checkpoint: createMemoryCheckpointStore({ data: world.checkpoint }),
    clock: createVirtualClock(START),
    stopWhenIdle: true,
    stopOnSignals: false,
    retryBackoffMs: 10,
    maxRecordsPerPartition: 2,
    logger: silentLogger,
    ...contextOptions,
  });
  const source = createMemoryLogSource(world.log, { name: 'events' });
  const offsets = { appId: world.appId, outputName: 'events-out', tablePrefix: `${world.table}_` };
  ssc
    .source(resumeFromDatabase ? withCommittedOffsets(source, pool, offsets) : source)
    .map((r): Row => ({ k: `${r.partition}/${r.offset}`, v: r.value === badRecord ? -1 : r.offset, payload: r.value }))
    .to(
      postgresSink<Row>({
        pool,
        name: 'events-out',
        tablePrefix: `${world.table}_`,
        storeOffsets: true,
        write: async (tx, records) => void (await appendRows(tx, records, { table: world.table, columns: ['k', 'v', 'payload'] })),
      }),
    );
  return ssc;
}

const rowsOf = async (world: World) => (await pool.query(`SELECT payload FROM ${quoteIdent(world.table)} ORDER BY payload`)).rows.map((r) => r.payload as string);
const everything = (world: World) => [0, 1, 2].flatMap((p) => world.log.slice(p, 0, world.log.endOffset(p))).sort();

/** A process that dies after batch 2's output, before the batch's completion is recorded. */
async function crashAfterSecondOutput(world: World): Promise<void> {
  const crash = createCrashSwitch();
  crash.arm('output:after', 2);
  await processOf(world, { atProtocolPoint: crash.atProtocolPoint }).start();
  await crash.crashed;
}

describe('postgresSink driven by StreamingContext', () => {
  it('a run, a crash after the output and before completion, a restart: every record once', async () => {
    const world = await newWorld();
    try {
      await crashAfterSecondOutput(world);
      const restarted = processOf(world);
      await restarted.start();
      await restarted.awaitTermination();
      expect(await rowsOf(world)).toEqual(everything(world));
      expect(await readCommittedOffsets(pool, { appId: world.appId, outputName: 'events-out', tablePrefix: `${world.table}_` })).toEqual({
        events: { '0': 7, '1': 8, '2': 9 },
      });
    } finally {
      await dropAll(pool, `${world.table}_`, world.table);
    }
  });

  it('checkpoint lost: a new process resumes from the offsets in the database alone, every record once', async () => {
    const world = await newWorld();
    try {
      await crashAfterSecondOutput(world);
      expect((await rowsOf(world)).length).toBeGreaterThan(0);
      // The checkpoint is gone; the clock has moved on, as a real one would (batch times are not reused).
      world.checkpoint = createMemoryCheckpointData();
      const later = createVirtualClock(START + 3_600_000);
      // The sink committed batches the (empty) checkpoint does not know. Without the database's
      // offsets that is a store that lost entries, and start refuses...
      const refused = await processOf(world, { clock: later })
        .start()
        .then(() => undefined, (e: unknown) => e);
      expect(isMicrobatchError(refused, 'CHECKPOINT_BEHIND_SINK')).toBe(true);
      const newest = await pool.query(`SELECT max(batch_time)::float8 AS t FROM ${quoteIdent(`${world.table}_markers`)}`);
      expect((refused as { details: object }).details).toMatchObject({ output: 'events-out', sinkBatchTime: newest.rows[0].t, checkpointBatchTime: 0 });
      // ...while a source resuming from this output's committed offsets starts after its records:
      // recovering from the database alone is exact, and needs no opt-in.
      const fresh = processOf(world, { resumeFromDatabase: true, clock: later });
      await fresh.start();
      await fresh.awaitTermination();
      expect(await rowsOf(world)).toEqual(everything(world));
    } finally {
      await dropAll(pool, `${world.table}_`, world.table);
    }
  });

  it('a row violating a constraint stops the context with an error naming the output and the batch; nothing of it is written', async () => {
    const world = await newWorld();
    try {
      const ssc = processOf(world, { badRecord: 'r1-3', maxBatchAttempts: 2, retryTimeoutMs: 0 });
      await ssc.start();
      const error = await ssc.awaitTermination().then(() => undefined, (e: unknown) => e);
      expect(isMicrobatchError(error, 'BATCH_FAILED')).toBe(true);
      const cause = (error as Error).cause;
      expect(isMicrobatchError(cause, 'SINK_FAILED')).toBe(true);
      expect((cause as Error).message).toMatch(/Output "events-out" failed writing batch \d+ partition 1: a row violates constraint/);
      const rows = await rowsOf(world);
      expect(rows).not.toContain('r1-3');
      expect(rows).not.toContain('r1-2'); // same partition, same batch: rolled back together
    } finally {
      await dropAll(pool, `${world.table}_`, world.table);
    }
  });
});
