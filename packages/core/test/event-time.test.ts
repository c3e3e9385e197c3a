import { describe, expect, it } from 'vitest';
import { createMemoryLogSource, createQueueSource } from '@microbatch/source-memory';
import { createMemoryCheckpointData, createMemoryCheckpointStore, isMicrobatchError, type DStream, type EventWindowOptions, type StreamingContextOptions } from '../src/index.js';
import { logOf, testContext, uniqueAppId } from './helpers.js';

/** A page view with its event time. */
type View = readonly [page: string, ts: number];

/** Runs the given batches (one queue push each) and returns results and late records per batch. */
async function run<R, L>(
  batches: View[][],
  build: (views: DStream<View>) => { results: DStream<R>; late?: DStream<L> },
  options: Partial<StreamingContextOptions> = {},
) {
  const ssc = testContext(options);
  const queue = createQueueSource<View>({ name: 'views' });
  for (const b of batches) queue.push(b);
  const { results, late } = build(ssc.source(queue));
  const out = { results: [] as R[][], late: [] as L[][] };
  results.foreachBatch(async (batch) => void out.results.push(await batch.collect()), { name: 'results' });
  late?.foreachBatch(async (batch) => void out.late.push(await batch.collect()), { name: 'late' });
  await ssc.start();
  await ssc.awaitTermination();
  return out;
}

const counts = (views: DStream<View>, size: number, slide: number | undefined, options: Partial<EventWindowOptions> = {}, delayMs = 1000) => {
  const windows = views
    .withWatermark(([, ts]) => ts, { delayMs })
    .map(([page]): [string, number] => [page, 1])
    .reduceByKeyAndEventWindow((a, b) => a + b, size, slide, { name: 'counts', ...options });
  return { results: windows, late: windows.late() };
};

describe('event-time windows', () => {
  it('final mode: one result per window and key once the watermark (max event time before the batch - delay) passes its end; late records to the side output', async () => {
    const out = await run(
      [
        [['a', 1000], ['b', 1500], ['a', 9000]], // no watermark yet; afterwards 9000 - 1000 = 8000
        [['a', 12000], ['a', 7999], ['b', 8000], ['b', 8001]], // 7999 and 8000 are late (<= 8000); then 11000
        [], // closes [0, 10000): its end 10000 <= 11000
      ],
      (views) => counts(views, 10_000, undefined),
    );
    expect(out.results).toEqual([[], [], [{ key: 'a', start: 0, end: 10_000, value: 2 }, { key: 'b', start: 0, end: 10_000, value: 2 }], []]);
    expect(out.late[1]).toEqual([
      { reason: 'late', record: ['a', 7999], eventTime: 7999, watermark: 8000, batchTime: expect.any(Number) },
      { reason: 'late', record: ['b', 8000], eventTime: 8000, watermark: 8000, batchTime: expect.any(Number) },
    ]);
    expect(out.late.flat()).toHaveLength(2);
  });

  it('update mode: the current value of every window the batch changed, each batch', async () => {
    const out = await run(
      [[['a', 1000], ['b', 5000]], [['a', 6000]], [['a', 25_000]], [['a', 3000]]],
      (views) => counts(views, 10_000, undefined, { outputMode: 'update' }),
    );
    expect(out.results.slice(0, 4)).toEqual([
      [{ key: 'a', start: 0, end: 10_000, value: 1 }, { key: 'b', start: 0, end: 10_000, value: 1 }],
      [{ key: 'a', start: 0, end: 10_000, value: 2 }],
      [{ key: 'a', start: 20_000, end: 30_000, value: 1 }],
      [], // 3000 <= watermark 24000: late, changes nothing; [0, 10000) was dropped silently
    ]);
    expect(out.late.flat().map((l) => l.record)).toEqual([['a', 3000]]);
  });

  it('sliding windows: a record counts in every window [s, s + size) that holds it, starts at multiples of the slide', async () => {
    const out = await run([[['a', 2500], ['a', 4500]], [['a', 100_000]], []], (views) => counts(views, 4000, 2000));
    expect(out.results.flat()).toEqual([
      { key: 'a', start: 0, end: 4000, value: 1 },
      { key: 'a', start: 2000, end: 6000, value: 2 },
      { key: 'a', start: 4000, end: 8000, value: 1 },
    ]);
  });

  it('windowByEventTime: every value of each window, in input order', async () => {
    const out = await run([[['a', 1000], ['b', 1500], ['a', 500]], [['a', 30_000]], []], (views) => ({
      results: views
        .withWatermark(([, ts]) => ts, { delayMs: 1000 })
        .map(([page, ts]): [string, number] => [page, ts])
        .windowByEventTime(10_000, undefined, { name: 'values' }),
    }));
    expect(out.results.flat()).toEqual([
      { key: 'a', start: 0, end: 10_000, value: [1000, 500] },
      { key: 'b', start: 0, end: 10_000, value: [1500] },
    ]);
  });

  it('session windows: records less than the gap apart form one session; a bridging record merges two', async () => {
    const out = await run(
      [[['a', 1000], ['a', 2000], ['a', 10_000], ['b', 1500]], [['a', 6000]], [['a', 50_000]], []],
      (views) => {
        const sessions = views
          .withWatermark(([, ts]) => ts, { delayMs: 10_000 })
          .map(([page]): [string, number] => [page, 1])
          .reduceByKeyAndSessionWindow((a, b) => a + b, 5000, { name: 'sessions' });
        return { results: sessions };
      },
    );
    // 1000, 2000 and 10000 are two sessions until 6000 bridges them (6000 - 2000 < 5000, 10000 - 6000 < 5000).
    expect(out.results.flat()).toEqual([
      { key: 'a', start: 1000, end: 15_000, value: 4 },
      { key: 'b', start: 1500, end: 6500, value: 1 },
    ]);
  });

  it("late: 'drop' drops late records and counts them; nothing reaches the side output", async () => {
    const ssc = testContext();
    const queue = createQueueSource<View>({ name: 'views' });
    for (const b of [[['a', 10_000]], [['a', 1], ['a', 2], ['a', 20_000]], []] as View[][]) queue.push(b);
    const windows = ssc
      .source(queue)
      .withWatermark(([, ts]) => ts, { delayMs: 0 })
      .map(([p]): [string, number] => [p, 1])
      .reduceByKeyAndEventWindow((a, b) => a + b, 10_000, undefined, { name: 'w', late: 'drop' });
    const late: unknown[] = [];
    const dropped: number[] = [];
    const rejected: unknown[] = [];
    ssc.addListener({ onRecordsRejected: (event) => void rejected.push(event) });
    windows.late().foreachBatch(async (b) => void late.push(...(await b.collect())), { name: 'late' });
    windows.foreachBatch(async () => void dropped.push(windows.progress.lastCounts.dropped), { name: 'results' });
    await ssc.start();
    await ssc.awaitTermination();
    expect(late).toEqual([]);
    // Counts are those of the batch committed before each output ran: batch 2 dropped 2.
    expect(dropped).toEqual([0, 0, 2, 0]);
    // Metrics and the dashboard see them as rejected records of the operator.
    expect(rejected).toEqual([{ source: 'w', reason: 'late', action: 'dropped', count: 2 }]);
  });

  it('an extractor returning a non-finite number fails the batch with INVALID_RECORD by default, never a NaN window', async () => {
    const ssc = testContext();
    const queue = createQueueSource<View>({ name: 'views' });
    queue.push([['a', 1000], ['a', Number.NaN]]);
    const seen: unknown[] = [];
    counts(ssc.source(queue), 10_000, undefined).results.foreachBatch(async (b) => void seen.push(...(await b.collect())));
    await ssc.start();
    const error = await ssc.awaitTermination().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMicrobatchError(error, 'BATCH_FAILED')).toBe(true);
    const cause = (error as Error).cause;
    expect(isMicrobatchError(cause, 'INVALID_RECORD')).toBe(true);
    expect((cause as { details: Record<string, unknown> }).details).toMatchObject({ operator: 'counts', eventTime: 'NaN', partition: 0 });
    expect(seen).toEqual([]);
  });

  it("invalidEventTime: 'side-output' routes the record with its typed error to the side output; 'drop' counts it", async () => {
    const batches: View[][] = [[['a', 1000], ['a', Number.POSITIVE_INFINITY], ['a', 'x' as unknown as number]], [['a', 20_000]], []];
    const routed = await run(batches, (views) => counts(views, 10_000, undefined, { invalidEventTime: 'side-output' }));
    const invalid = routed.late.flat();
    expect(invalid.map((l) => [l.reason, l.eventTime])).toEqual([
      ['invalid-event-time', 'Infinity'],
      ['invalid-event-time', 'x'],
    ]);
    for (const l of invalid) expect(isMicrobatchError((l as { error?: unknown }).error, 'INVALID_RECORD')).toBe(true);
    expect(routed.results.flat()).toEqual([{ key: 'a', start: 0, end: 10_000, value: 1 }]);

    const dropped = await run(batches, (views) => counts(views, 10_000, undefined, { invalidEventTime: 'drop' }));
    expect(dropped.late.flat()).toEqual([]);
    expect(dropped.results.flat()).toEqual([{ key: 'a', start: 0, end: 10_000, value: 1 }]);
  });

  it('an idle partition stops holding the watermark back after idleAfterBatches batches without records', async () => {
    // Partition 1 has one old record, then nothing: the watermark follows partition 0 once 1 is idle.
    const log = logOf<View>([
      [['a', 1000], ['a', 30_000], ['a', 31_000], ['a', 32_000], ['a', 33_000], ['a', 34_000]],
      [['b', 500]],
    ]);
    const watermarks: (number | null)[] = [];
    const ssc = testContext({ maxRecordsPerPartition: 1 });
    const windows = ssc
      .source(createMemoryLogSource(log, { name: 'views' }))
      .map((r) => r.value)
      .withWatermark(([, ts]) => ts, { delayMs: 0, idleAfterBatches: 2 })
      .map(([page]): [string, number] => [page, 1])
      .reduceByKeyAndEventWindow((a, b) => a + b, 10_000, undefined, { name: 'w' });
    windows.foreachBatch(async () => void watermarks.push(windows.progress.watermark), { name: 'out' });
    await ssc.start();
    await ssc.awaitTermination();
    // The watermark each batch uses: none in the first; min(1000, 500); partition 1 idle for 1 batch
    // still holds it at 500; idle for 2 batches it is released: 31000, 32000, 33000...
    expect(watermarks.slice(0, 6)).toEqual([null, 500, 500, 31_000, 32_000, 33_000]);
  });

  it('refuses bad options with INVALID_OPTION', () => {
    const ssc = testContext();
    const views = ssc.source(createQueueSource<View>({ name: 'views' }));
    const bad = (fn: () => unknown, option: string) => {
      let error: unknown;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      expect(isMicrobatchError(error, 'INVALID_OPTION'), String(error)).toBe(true);
      expect((error as { details: { option: string } }).details.option).toBe(option);
    };
    const w = views.withWatermark(([, ts]) => ts, { delayMs: 10 }).map(([p]): [string, number] => [p, 1]);
    const sum = (a: number, b: number) => a + b;
    bad(() => w.reduceByKeyAndEventWindow(sum, 0, undefined, { name: 'a' }), 'sizeMs');
    bad(() => w.reduceByKeyAndEventWindow(sum, -5, undefined, { name: 'a' }), 'sizeMs');
    bad(() => w.reduceByKeyAndEventWindow(sum, Number.NaN, undefined, { name: 'a' }), 'sizeMs');
    bad(() => w.reduceByKeyAndEventWindow(sum, 1000, 2000, { name: 'a' }), 'slideMs');
    bad(() => w.reduceByKeyAndEventWindow(sum, 1000, 0, { name: 'a' }), 'slideMs');
    bad(() => w.reduceByKeyAndSessionWindow(sum, 0, { name: 'a' }), 'gapMs');
    bad(() => w.reduceByKeyAndEventWindow(sum, 1000), 'name');
    bad(() => w.reduceByKeyAndEventWindow(sum, 1000, undefined, { name: 'a', outputMode: 'append' as 'final' }), 'outputMode');
    bad(() => w.reduceByKeyAndEventWindow(sum, 1000, undefined, { name: 'a', late: 'ignore' as 'drop' }), 'late');
    bad(() => views.withWatermark(([, ts]) => ts, { delayMs: -1 }), 'delayMs');
    bad(() => views.withWatermark(([, ts]) => ts, { delayMs: Number.POSITIVE_INFINITY }), 'delayMs');
    bad(() => views.withWatermark(([, ts]) => ts, { delayMs: 0, idleAfterBatches: 0 }), 'idleAfterBatches');
    bad(() => views.withWatermark('ts' as unknown as (v: View) => number, { delayMs: 0 }), 'extract');
  });

  it('refuses to restore open windows of another size (INVALID_OPTION), unless the operator is reset', async () => {
    const appId = uniqueAppId('et-resize');
    const data = createMemoryCheckpointData();
    const log = logOf<View>([[['a', 1000], ['a', 2000], ['a', 3000]]]);
    const start = async (sizeMs: number, resetStreams: string[] = []) => {
      const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), maxRecordsPerPartition: 1, checkpointIntervalMs: 1000, resetStreams });
      counts(ssc.source(createMemoryLogSource(log, { name: 'views' })).map((r) => r.value), sizeMs, undefined).results.foreachBatch(async () => {}, { name: 'out' });
      await ssc.start();
      await ssc.awaitTermination();
    };
    await start(10_000);
    const error = await start(20_000).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isMicrobatchError(error, 'INVALID_OPTION'), String(error)).toBe(true);
    expect((error as { details: Record<string, unknown> }).details).toMatchObject({
      option: 'windows',
      operator: 'counts',
      checkpointed: { kind: 'fixed', sizeMs: 10_000, slideMs: 10_000 },
      configured: { kind: 'fixed', sizeMs: 20_000, slideMs: 20_000 },
    });
    await start(20_000, ['counts']);
  });
});
