import { describe, expect, it } from 'vitest';
import { createMemoryLogSource } from '@microbatch/source-memory';
import {
  MicrobatchError,
  StreamingContext,
  createMemoryCheckpointBackend,
  createMemoryCheckpointData,
  createCheckpointStore,
  createMemoryCheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  type Source,
  type StreamingContextOptions,
} from '../src/index.js';
import { logOf, testContext, uniqueAppId } from './helpers.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(MicrobatchError);
    return (error as MicrobatchError).code;
  }
  return undefined;
}

const valid = (): StreamingContextOptions => ({ appId: 'ok', batchIntervalMs: 1000, checkpoint: createMemoryCheckpointStore() });

describe('invalid options fail at construction with INVALID_OPTION', () => {
  for (const [label, patch] of [
    ['interval 0', { batchIntervalMs: 0 }],
    ['negative interval', { batchIntervalMs: -5 }],
    ['fractional interval', { batchIntervalMs: 1.5 }],
    ['missing appId', { appId: undefined }],
    ['appId with a slash', { appId: 'a/b' }],
    ['missing checkpoint store', { checkpoint: undefined }],
    ['zero partition concurrency', { maxConcurrentPartitions: 0 }],
    ['non-integer cap', { maxRecordsPerPartition: 2.5 }],
    ['resetStreams not an array', { resetStreams: 'events' }],
  ] as const) {
    it(label, () => {
      expect(codeOf(() => new StreamingContext({ ...valid(), ...(patch as object) } as StreamingContextOptions))).toBe('INVALID_OPTION');
    });
  }

  it('the error names the option and the value', () => {
    try {
      new StreamingContext({ ...valid(), batchIntervalMs: -5 });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ name: 'MicrobatchError', code: 'INVALID_OPTION', details: { option: 'batchIntervalMs', value: -5 } });
    }
  });

  it('duplicate stream names', () => {
    const ssc = testContext();
    ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'events' }));
    expect(codeOf(() => ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'events' })))).toBe('INVALID_OPTION');
    expect(codeOf(() => ssc.registerOperator('events'))).toBe('INVALID_OPTION');
  });

  it('duplicate output names', () => {
    const ssc = testContext();
    const s = ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'events' }));
    s.foreachBatch(() => {}, { name: 'out' });
    expect(codeOf(() => s.foreachBatch(() => {}, { name: 'out' }))).toBe('INVALID_OPTION');
  });

  it('a source without a name or read()', () => {
    const ssc = testContext();
    expect(codeOf(() => ssc.source({} as Source<number>))).toBe('INVALID_OPTION');
    expect(codeOf(() => ssc.source({ name: 'x', latestOffsets: async () => ({}), startOffsets: async () => ({}) } as unknown as Source<number>))).toBe(
      'INVALID_OPTION',
    );
  });

  it('a graph without outputs cannot start', async () => {
    const ssc = testContext();
    ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'events' }));
    await expect(ssc.start()).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('repartition(0) and a join partition count of 0', () => {
    const ssc = testContext();
    const s = ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'events' }));
    expect(codeOf(() => s.repartition(0))).toBe('INVALID_OPTION');
  });

  it('a context starts once', async () => {
    const ssc = testContext();
    ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'events' })).foreachBatch(() => {});
    await ssc.start();
    await expect(ssc.start()).rejects.toMatchObject({ code: 'ALREADY_STARTED' });
    await ssc.awaitTermination();
  });
});

describe('program changes between runs', () => {
  const run = async (appId: string, data: ReturnType<typeof createMemoryCheckpointData>, names: string[], reset: string[] = []) => {
    const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), resetStreams: reset });
    const seen: number[] = [];
    for (const name of names) {
      ssc.source(createMemoryLogSource(logOf([[1, 2]]), { name })).map((r) => r.value).foreachBatch(async (b) => void seen.push(...(await b.collect())), { name: `out-${name}` });
    }
    await ssc.start();
    await ssc.awaitTermination();
    return seen;
  };

  it('a renamed source gives GRAPH_MISMATCH listing both sides; resetStreams lets it start afresh', async () => {
    const appId = uniqueAppId('rename');
    const data = createMemoryCheckpointData();
    expect(await run(appId, data, ['events', 'clicks'])).toEqual([1, 2, 1, 2]);
    const error = await run(appId, data, ['events', 'clicks-v2']).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({
      code: 'GRAPH_MISMATCH',
      details: { missingFromProgram: ['clicks'], missingFromCheckpoint: ['clicks-v2'] },
    });
    expect((error as Error).message).toContain('clicks-v2');
    // Reset both names: clicks is forgotten, clicks-v2 starts from its beginning, events resumes.
    expect(await run(appId, data, ['events', 'clicks-v2'], ['clicks', 'clicks-v2'])).toEqual([1, 2]);
  });

  it('a new source is allowed: the old ones resume, the new one starts from its beginning', async () => {
    const appId = uniqueAppId('added');
    const data = createMemoryCheckpointData();
    expect(await run(appId, data, ['events'])).toEqual([1, 2]);
    // events resumes after its checkpointed offsets (nothing new); clicks reads its log from the start.
    expect(await run(appId, data, ['events', 'clicks'])).toEqual([1, 2]);
    // Removing a stream is still refused: its checkpoint data would be dropped silently.
    await expect(run(appId, data, ['events'])).rejects.toMatchObject({ code: 'GRAPH_MISMATCH', details: { missingFromProgram: ['clicks'] } });
  });

  it('a changed batch interval is refused, naming both intervals', async () => {
    const appId = uniqueAppId('interval');
    const data = createMemoryCheckpointData();
    expect(await run(appId, data, ['events'])).toEqual([1, 2]);
    const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), batchIntervalMs: 500 });
    ssc.source(createMemoryLogSource(logOf([[1, 2]]), { name: 'events' })).foreachBatch(() => {});
    await expect(ssc.start()).rejects.toMatchObject({ code: 'INVALID_OPTION', details: { option: 'batchIntervalMs', value: { configured: 500, checkpointed: 1000 } } });
  });

  it('resetStreams naming nothing known is an error, not silently ignored', async () => {
    const appId = uniqueAppId('typo');
    const data = createMemoryCheckpointData();
    await run(appId, data, ['events']);
    await expect(run(appId, data, ['events'], ['evnets'])).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe('bad checkpoints', () => {
  it('a corrupt newest checkpoint is skipped for the previous valid one; all corrupt refuses to start', async () => {
    const appId = uniqueAppId('corrupt');
    const data = createMemoryCheckpointData();
    const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), maxRecordsPerPartition: 1 });
    ssc.source(createMemoryLogSource(logOf([[1, 2, 3]]), { name: 'events' })).foreachBatch(() => {});
    await ssc.start();
    await ssc.awaitTermination();
    const checkpoints = data.checkpoints.get(appId)!;
    const names = [...checkpoints.keys()].sort();
    checkpoints.set(names.at(-1)!, new TextEncoder().encode('{"formatVersion":1,"sha2'));
    const latest = await createMemoryCheckpointStore({ data }).latest(appId);
    expect(latest?.name).toBe(names.at(-2));
    expect(latest?.skipped.map((s) => s.error.code)).toEqual(['CHECKPOINT_CORRUPT']);

    for (const name of names) checkpoints.set(name, new TextEncoder().encode('garbage'));
    const again = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }) });
    again.source(createMemoryLogSource(logOf([[1, 2, 3]]), { name: 'events' })).foreachBatch(() => {});
    await expect(again.start()).rejects.toMatchObject({ code: 'CHECKPOINT_CORRUPT' });
  });

  it('the codec rejects a hand-edited body, a future format and structural nonsense', () => {
    const checkpoint = {
      formatVersion: 1 as const, appId: 'a', epoch: 1, seq: 1, writtenAt: 0, batchIntervalMs: 1000,
      sources: { s: { offsets: { '0': 5 } } }, operators: {}, batches: [], blobs: [],
    };
    const bytes = encodeCheckpoint(checkpoint);
    expect(decodeCheckpoint(bytes, 'x')).toEqual(checkpoint);
    const edited = new TextEncoder().encode(new TextDecoder().decode(bytes).replace('5', '6'));
    expect(() => decodeCheckpoint(edited, 'x')).toThrow(expect.objectContaining({ code: 'CHECKPOINT_CORRUPT' }));
    const future = new TextEncoder().encode(JSON.stringify({ formatVersion: 99 }));
    expect(() => decodeCheckpoint(future, 'x')).toThrow(expect.objectContaining({ code: 'CHECKPOINT_UNSUPPORTED_VERSION' }));
    const negative = { ...checkpoint, sources: { s: { offsets: { '0': -1 } } } };
    expect(() => decodeCheckpoint(encodeCheckpoint(negative), 'x')).toThrow(expect.objectContaining({ code: 'CHECKPOINT_CORRUPT' }));
  });

  it('a store refuses retain < 1', () => {
    expect(codeOf(() => createCheckpointStore(createMemoryCheckpointBackend(), { retain: 0 }))).toBe('INVALID_OPTION');
  });
});

describe('a misbehaving source', () => {
  it('invalid offsets stop the context with SOURCE_FAILED after retries, naming the source', async () => {
    const ssc = testContext({ maxBatchAttempts: 2 });
    const source: Source<number> = {
      name: 'liar',
      latestOffsets: async () => ({ '0': -3 }),
      startOffsets: async () => ({ '0': 0 }),
      read: async () => [],
    };
    ssc.source(source).foreachBatch(() => {});
    await ssc.start();
    await expect(ssc.awaitTermination()).rejects.toMatchObject({ code: 'SOURCE_FAILED', message: expect.stringContaining('liar') });
  });

  it('a read that throws fails the batch with SOURCE_FAILED carrying the cause and range', async () => {
    const ssc = testContext({ maxBatchAttempts: 1 });
    const boom = new Error('disk on fire');
    ssc.source<number>({
      name: 'flaky',
      latestOffsets: async () => ({ '0': 3 }),
      startOffsets: async () => ({ '0': 0 }),
      read: async () => { throw boom; },
    }).foreachBatch(async (b) => void (await b.collect()));
    await ssc.start();
    const error = (await ssc.awaitTermination().catch((e: unknown) => e)) as MicrobatchError;
    expect(error.code).toBe('BATCH_FAILED');
    expect(error.cause).toMatchObject({ code: 'SOURCE_FAILED', cause: boom, details: { range: { source: 'flaky', partition: '0', from: 0, until: 3 } } });
  });
});
