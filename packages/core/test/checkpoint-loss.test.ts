import { describe, expect, it } from 'vitest';
import { MemoryLog, createMemoryLogSource } from '@microbatch/source-memory';
import { createCrashSwitch, createMemorySinkData, createMemoryTransactionalSink, createRecordingLogger, type MemorySinkData } from '@microbatch/testkit';
import { createMemoryCheckpointData, createMemoryCheckpointStore, type Logger, type MemoryCheckpointData, type StreamingContext } from '../src/index.js';
import { testContext, uniqueAppId } from './helpers.js';

/**
 * docs/semantics.md §3, start step 2: a checkpoint store that lost its newest entries (a garbled
 * file, a Redis without persistence that restarted) must never make a restart plan committed
 * records again under new batch times.
 */
interface World {
  appId: string;
  log: MemoryLog<number>;
  store: MemoryCheckpointData;
  sink: MemorySinkData<number>;
}

const newWorld = (): World => {
  const log = new MemoryLog<number>(1);
  log.append(0, 1, 2, 3, 4);
  return { appId: uniqueAppId('loss'), log, store: createMemoryCheckpointData(), sink: createMemorySinkData<number>() };
};

function processOf(world: World, options: { recoverFromOlderCheckpoint?: boolean; logger?: Logger } = {}, crash = createCrashSwitch()): StreamingContext {
  const ssc = testContext({
    appId: world.appId,
    checkpoint: crash.wrapStore(createMemoryCheckpointStore({ data: world.store, ...(options.logger ? { logger: options.logger } : {}) })),
    atProtocolPoint: crash.atProtocolPoint,
    maxRecordsPerPartition: 2,
    ...options,
  });
  ssc.source(createMemoryLogSource(world.log, { name: 'events' })).map((r) => r.value).to(createMemoryTransactionalSink({ name: 'out', data: world.sink }));
  return ssc;
}

/** Records 1-4 processed; 5 and 6 appended; the process dies right after their batch's output. */
async function crashAfterOutputOfTheLastBatch(world: World): Promise<void> {
  const first = processOf(world);
  await first.start();
  await first.awaitTermination();
  world.log.append(0, 5, 6);
  const crash = createCrashSwitch();
  crash.arm('output:after');
  const doomed = processOf(world, {}, crash);
  await doomed.start();
  expect(await crash.crashed).toBe('output:after');
  expect(world.sink.committed.size).toBeGreaterThan(2);
}

const names = (world: World) => [...world.store.checkpoints.get(world.appId)!.keys()].sort();
const committedTwice = (world: World) => {
  const records = [...world.sink.committed.values()].flatMap((c) => c.records);
  return records.filter((r, i) => records.indexOf(r) !== i);
};

describe('a corrupt newest checkpoint', () => {
  it('refuses start with CHECKPOINT_CORRUPT naming the corrupt and the last valid checkpoint, and outputs nothing twice', async () => {
    const world = newWorld();
    await crashAfterOutputOfTheLastBatch(world);
    const all = names(world);
    world.store.checkpoints.get(world.appId)!.set(all.at(-1)!, new TextEncoder().encode('{"formatVersion":1,"garbled'));

    const restarted = processOf(world);
    const error = await restarted.start().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'CHECKPOINT_CORRUPT', details: { corrupt: [all.at(-1)], lastValid: all.at(-2) } });
    expect((error as Error).cause).toMatchObject({ code: 'CHECKPOINT_CORRUPT' });
    expect(committedTwice(world)).toEqual([]);
  });

  it('with recoverFromOlderCheckpoint it starts from the valid one, says so at error level, and keeps new names after the corrupt one', async () => {
    const world = newWorld();
    await crashAfterOutputOfTheLastBatch(world);
    const all = names(world);
    const corrupt = all.at(-1)!;
    world.store.checkpoints.get(world.appId)!.set(corrupt, new TextEncoder().encode('garbled'));

    const logger = createRecordingLogger();
    const restarted = processOf(world, { recoverFromOlderCheckpoint: true, logger });
    await restarted.start();
    await restarted.awaitTermination();
    expect(logger.messages.error).toEqual([
      expect.stringContaining('starting from an older one'),
      expect.stringContaining('a sink committed batches the checkpoint does not know'),
    ]);
    // New checkpoints sort after the corrupt one, so it never shadows them as "newest".
    expect(names(world).filter((n) => n > corrupt).length).toBeGreaterThan(0);
    // A corrupt retained checkpoint is reported once, not on every write while it stays.
    expect(logger.messages.warn.filter((m) => m.includes('blob collection is postponed')).length).toBeLessThanOrEqual(1);
  });
});

describe('a checkpoint store that lost its newest entries', () => {
  it('fails start with CHECKPOINT_BEHIND_SINK when a transactional sink committed a batch the checkpoint does not know', async () => {
    const world = newWorld();
    await crashAfterOutputOfTheLastBatch(world);
    // As a Redis without persistence after a restart, or a restored backup: the newest entries are gone.
    const checkpoints = world.store.checkpoints.get(world.appId)!;
    const all = names(world);
    for (const name of all.slice(-2)) checkpoints.delete(name);

    const restarted = processOf(world);
    const error = await restarted.start().then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'CHECKPOINT_BEHIND_SINK', details: { output: 'out' } });
    expect(committedTwice(world)).toEqual([]);
  });

  it('a sink at or behind the checkpoint lets start go on', async () => {
    const world = newWorld();
    await crashAfterOutputOfTheLastBatch(world);
    const restarted = processOf(world);
    await restarted.start();
    await restarted.awaitTermination();
    expect([...world.sink.committed.values()].flatMap((c) => c.records).sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
