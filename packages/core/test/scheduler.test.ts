import { describe, expect, it } from 'vitest';
import { createMemoryLogSource } from '@microbatch/source-memory';
import {
  MicrobatchError,
  PidRateEstimator,
  createMemoryCheckpointData,
  createMemoryCheckpointStore,
  createVirtualClock,
  firstBatchTime,
  isMicrobatchError,
  partitionCaps,
  type BatchInfo,
  type Logger,
  type OutputOperationInfo,
} from '../src/index.js';
import { START, logOf, testContext, uniqueAppId } from './helpers.js';

describe('scheduler', () => {
  it('batch times are consecutive multiples of the interval', async () => {
    const ssc = testContext({ batchIntervalMs: 250, maxRecordsPerPartition: 1, clock: createVirtualClock(START + 7) });
    const times: number[] = [];
    ssc.addListener({ onBatchCompleted: (info) => times.push(info.batchTime) });
    ssc.source(createMemoryLogSource(logOf([[1, 2, 3]]), { name: 'in' })).foreachBatch(() => {});
    await ssc.start();
    await ssc.awaitTermination();
    expect(times).toHaveLength(4);
    expect(times[0]).toBe(START + 250);
    times.forEach((t, i) => expect(t).toBe(times[0]! + i * 250));
  });

  it('firstBatchTime is aligned and strictly after every logged batch', () => {
    expect(firstBatchTime(1001, 0, 1000)).toBe(2000);
    expect(firstBatchTime(1000, 0, 1000)).toBe(1000);
    expect(firstBatchTime(1000, 5000, 1000)).toBe(6000);
    expect(firstBatchTime(1000, 5500, 1000)).toBe(6000);
  });

  it('retries a failing batch with backoff, with increasing attempt numbers, then goes on', async () => {
    const clock = createVirtualClock(START);
    const ssc = testContext({ clock, retryBackoffMs: 100, retryBackoffMaxMs: 150, maxBatchAttempts: 4 });
    const attempts: number[] = [];
    const failures: Array<{ willRetry: boolean }> = [];
    const sleptAt: number[] = [];
    ssc.addListener({ onBatchFailed: (e) => failures.push({ willRetry: e.willRetry }), onBatchStarted: () => sleptAt.push(clock.now()) });
    const seen: number[][] = [];
    ssc.source(createMemoryLogSource(logOf([[1, 2]]), { name: 'in' })).map((r) => r.value).foreachBatch(async (batch, ctx) => {
      attempts.push(ctx.attempt);
      if (attempts.length <= 2) throw new Error('transient');
      seen.push(await batch.collect());
    });
    await ssc.start();
    await ssc.awaitTermination();
    expect(attempts.slice(0, 3)).toEqual([1, 2, 3]);
    expect(failures).toEqual([{ willRetry: true }, { willRetry: true }]);
    expect(sleptAt[1]! - sleptAt[0]!).toBe(100);
    expect(sleptAt[2]! - sleptAt[1]!).toBe(150); // 200 capped at retryBackoffMaxMs
    expect(seen[0]).toEqual([1, 2]);
  });

  it('after the last attempt the context stops with BATCH_FAILED, and the batch stays pending for the next start', async () => {
    const appId = uniqueAppId('fails');
    const data = createMemoryCheckpointData();
    const log = logOf([[1, 2, 3]]);
    let broken = true;
    const build = () => {
      const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), maxBatchAttempts: 3 });
      const seen: number[] = [];
      ssc.source(createMemoryLogSource(log, { name: 'in' })).map((r) => r.value).foreachBatch(async (batch) => {
        if (broken) throw new Error('bad deploy');
        seen.push(...(await batch.collect()));
      });
      return { ssc, seen };
    };
    const first = build();
    await first.ssc.start();
    const error = await first.ssc.awaitTermination().then(() => undefined, (e: unknown) => e);
    expect(isMicrobatchError(error, 'BATCH_FAILED')).toBe(true);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(((error as Error).cause as Error).message).toContain('Output "output-0" failed');
    const latest = await createMemoryCheckpointStore({ data }).latest(appId);
    expect(latest?.checkpoint.batches.map((b) => b.completed)).toEqual([false]);

    broken = false;
    const second = build();
    await second.ssc.start();
    await second.ssc.awaitTermination();
    expect(second.seen).toEqual([1, 2, 3]); // nothing skipped
  });

  it('sources, sinks and outputs log through child loggers that name them', async () => {
    const bindings: Array<Record<string, unknown>> = [];
    const recording = (own: Record<string, unknown>): Logger => ({
      debug() {},
      info() {},
      warn() {},
      error() {},
      child: (more) => {
        bindings.push({ ...own, ...more });
        return recording({ ...own, ...more });
      },
    });
    const ssc = testContext({ logger: recording({}) });
    const inner = createMemoryLogSource(logOf([[1]]), { name: 'clicks' });
    let sourceLogger: Logger | undefined;
    ssc.source({ ...inner, async open(ctx) { sourceLogger = ctx.logger; } }).foreachBatch((_b, ctx) => ctx.logger.info('hi'), { name: 'out' });
    await ssc.start();
    await ssc.awaitTermination();
    expect(sourceLogger).toBeDefined();
    expect(bindings).toContainEqual({ component: 'source', source: 'clicks' });
    expect(bindings).toContainEqual({ component: 'output', output: 'out' });
  });

  it('transient failures are ridden out for retryTimeoutMs, then stop the context; 0 stops after the attempts', async () => {
    const outage = async (options: { retryTimeoutMs?: number }, downMs: number) => {
      const clock = createVirtualClock(START);
      const ssc = testContext({ clock, retryBackoffMs: 1000, ...options });
      const until = START + downMs;
      const log = logOf([[1, 2, 3]]);
      const inner = createMemoryLogSource(log, { name: 'in' });
      // The broker is away for downMs: listing offsets fails as a client does when it cannot connect.
      ssc.source({ ...inner, latestOffsets: async () => {
        if (clock.now() < until) throw new Error('connect ECONNREFUSED 127.0.0.1:9092');
        return inner.latestOffsets();
      } }).map((r) => r.value).foreachBatch(async (b) => void seen.push(...(await b.collect())));
      const seen: number[] = [];
      await ssc.start();
      const error = await ssc.awaitTermination().then(() => undefined, (e: unknown) => e);
      return { error, seen };
    };
    // 30 s down, default options (5 min): rides it out and gets every record.
    expect(await outage({}, 30_000)).toEqual({ error: undefined, seen: [1, 2, 3] });
    // retryTimeoutMs: 0 keeps the old behaviour: 4 attempts (1 + 2 + 4 s of backoff), then SOURCE_FAILED.
    expect((await outage({ retryTimeoutMs: 0 }, 30_000)).error).toMatchObject({ code: 'SOURCE_FAILED' });
    // Down for longer than retryTimeoutMs: stops with the failure.
    expect((await outage({ retryTimeoutMs: 20_000 }, 60_000)).error).toMatchObject({ code: 'SOURCE_FAILED' });
  });

  it('deterministic errors are not retried: the context stops after one attempt', async () => {
    const ssc = testContext({ maxBatchAttempts: 5 });
    let attempts = 0;
    ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'in' })).foreachBatch(() => {
      attempts++;
      throw new MicrobatchError('DESERIALIZATION_FAILED', 'record 0 is not JSON');
    });
    await ssc.start();
    await expect(ssc.awaitTermination()).rejects.toMatchObject({ code: 'BATCH_FAILED', cause: { code: 'DESERIALIZATION_FAILED' } });
    expect(attempts).toBe(1);
  });

  it('graceful stop finishes the batch in flight and records its completion', async () => {
    const appId = uniqueAppId('graceful');
    const data = createMemoryCheckpointData();
    const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), stopWhenIdle: false, maxRecordsPerPartition: 1 });
    let stopRequested: Promise<void> | undefined;
    const done: number[] = [];
    ssc.source(createMemoryLogSource(logOf([[1, 2, 3, 4]]), { name: 'in' })).foreachBatch(async (_batch, ctx) => {
      if (!stopRequested) stopRequested = ssc.stop({ graceful: true });
      await new Promise((r) => setTimeout(r, 20));
      done.push(ctx.batchTime);
    });
    await ssc.start();
    await ssc.awaitTermination();
    await stopRequested;
    expect(done).toHaveLength(1);
    const latest = await createMemoryCheckpointStore({ data }).latest(appId);
    expect(latest?.checkpoint.batches).toEqual([]);
    expect(latest?.checkpoint.lastCompletedTime).toBe(done[0]);
  });

  it('a non-graceful stop leaves the batch in flight pending', async () => {
    const appId = uniqueAppId('abrupt');
    const data = createMemoryCheckpointData();
    const ssc = testContext({ appId, checkpoint: createMemoryCheckpointStore({ data }), stopWhenIdle: false });
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    ssc.source(createMemoryLogSource(logOf([[1]]), { name: 'in' })).foreachBatch(async (_b, ctx) => {
      entered();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
    });
    await ssc.start();
    await inside;
    await ssc.stop({ graceful: false });
    expect(ssc.status).toBe('stopped');
    const latest = await createMemoryCheckpointStore({ data }).latest(appId);
    expect(latest?.checkpoint.batches.map((b) => b.completed)).toEqual([false]);
  });

  it('emits listener events with record counts and delays', async () => {
    const clock = createVirtualClock(START);
    const ssc = testContext({ clock });
    const events: string[] = [];
    const completed: BatchInfo[] = [];
    const outputs: OutputOperationInfo[] = [];
    ssc.addListener({
      onStreamingStarted: () => events.push('started'),
      onBatchSubmitted: () => events.push('submitted'),
      onBatchStarted: () => events.push('batch-started'),
      onOutputOperationStarted: () => events.push('output-started'),
      onOutputOperationCompleted: (info) => (events.push('output-completed'), outputs.push(info)),
      onBatchCompleted: (info) => (events.push('batch-completed'), completed.push(info)),
      onStreamingStopped: () => events.push('stopped'),
    });
    ssc.addListener({ onBatchCompleted: () => { throw new Error('a broken listener must not stop the pipeline'); } });
    ssc.source(createMemoryLogSource(logOf([[1, 2], [3]]), { name: 'in' })).foreachBatch(() => clock.advance(40), { name: 'slow' });
    await ssc.start();
    await ssc.awaitTermination();
    expect(events.slice(0, 6)).toEqual(['started', 'submitted', 'batch-started', 'output-started', 'output-completed', 'batch-completed']);
    expect(events.at(-1)).toBe('stopped');
    expect(completed[0]).toMatchObject({ numRecords: 3, inputRecords: { in: 3 }, processingDelay: 40, schedulingDelay: 0, totalDelay: 40, replay: false });
    expect(outputs[0]).toMatchObject({ name: 'slow', durationMs: 40 });
  });

  it('an output with no batch at a time (a window between slides) gets neither a Started nor a Completed event', async () => {
    const ssc = testContext();
    const started: number[] = [];
    const completed: number[] = [];
    ssc.addListener({
      onOutputOperationStarted: (info) => void started.push(info.batchTime),
      onOutputOperationCompleted: (info) => void completed.push(info.batchTime),
    });
    ssc.source(createMemoryLogSource(logOf([[1, 2, 3, 4]]), { name: 'in' })).window(2000, 2000).foreachBatch(() => {}, { name: 'windowed' });
    await ssc.start();
    await ssc.awaitTermination();
    expect(started.length).toBeGreaterThan(0);
    expect(started).toEqual(completed);
    expect(started.every((t) => t % 2000 === 0)).toBe(true);
  });

  it('reports lag per partition, checkpoint writes and records a source rejected', async () => {
    const ssc = testContext({ maxRecordsPerPartition: 2 });
    const lags: unknown[] = [];
    const writes: number[] = [];
    const rejected: unknown[] = [];
    ssc.addListener({
      onBatchCompleted: (info) => lags.push(info.lag),
      onCheckpointWritten: (e) => writes.push(e.seq),
      onRecordsRejected: (e) => rejected.push(e),
    });
    const inner = createMemoryLogSource(logOf([[1, 2, 3, 4, 5], [6]]), { name: 'in' });
    ssc.source({
      ...inner,
      async open(context) {
        context.reportRejected?.({ source: 'in', reason: 'deserialization', action: 'skipped', count: 3, partition: '0' });
      },
    }).foreachBatch(() => {});
    await ssc.start();
    await ssc.awaitTermination();
    expect(lags[0]).toEqual({ in: { '0': 3, '1': 0 } });
    expect(lags[1]).toEqual({ in: { '0': 1, '1': 0 } });
    expect(writes).toEqual(writes.map((_, i) => i + 1));
    expect(writes.length).toBeGreaterThanOrEqual(4);
    expect(rejected).toEqual([{ source: 'in', reason: 'deserialization', action: 'skipped', count: 3, partition: '0' }]);
  });
});

describe('rate control', () => {
  it('a source cap wins over the context cap', async () => {
    const ssc = testContext({ maxRecordsPerPartition: 5 });
    const sizes: number[] = [];
    ssc.source(createMemoryLogSource(logOf([[1, 2, 3, 4, 5, 6]]), { name: 'in', maxRecordsPerPartition: 4 })).foreachBatch(async (b) => void sizes.push(await b.count()));
    await ssc.start();
    await ssc.awaitTermination();
    expect(sizes).toEqual([4, 2, 0]);
  });

  it('PID estimator follows Spark: first batch only calibrates, then the rate moves toward the processing rate', () => {
    const pid = new PidRateEstimator(1000, { minRate: 10 });
    expect(pid.compute(1000, 1000, 2000, 0)).toBeUndefined(); // processing rate 500/s
    // error = 500 - 250 = 250; historical = 1000*250/1000 = 250; rate = 500 - 250 - 0.2*250 = 200
    expect(pid.compute(2000, 500, 2000, 1000)).toBeCloseTo(200);
    expect(pid.compute(2500, 0, 100, 0)).toBeUndefined();
  });

  it('partition caps split the rate budget by lag and never stall a lagging partition', () => {
    expect(partitionCaps({ a: 300, b: 100 }, undefined, 200)).toEqual({ a: 150, b: 50 });
    expect(partitionCaps({ a: 300, b: 100 }, 120, Number.POSITIVE_INFINITY)).toEqual({ a: 120, b: 100 });
    expect(partitionCaps({ a: 5, b: 0 }, undefined, 0.001)).toEqual({ a: 1, b: 0 });
  });

  it('backpressure.initialRate caps the very first batch', async () => {
    const ssc = testContext({ backpressure: { initialRate: 100 } });
    const sizes: number[] = [];
    ssc.source(createMemoryLogSource(logOf([Array.from({ length: 5000 }, (_, i) => i)]), { name: 'in' })).foreachBatch(async (batch) => {
      sizes.push(await batch.count());
    });
    await ssc.start();
    await ssc.awaitTermination();
    // 100 records/s at a 1 s interval; later batches follow the estimate, and all 5000 arrive.
    expect(sizes[0]).toBe(100);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5000);
  });

  it('a backlog drains in batches of at most maxRecordsPerBatch (200000 by default), split by lag', async () => {
    const drain = async (options: { maxRecordsPerBatch?: number }) => {
      const ssc = testContext(options);
      const sizes: number[][] = [];
      // 3 partitions, 210000 records: more than the default cap, unevenly spread.
      const log = logOf<number>([[], [], []]);
      for (let i = 0; i < 14; i++) log.append(0, ...Array<number>(10_000).fill(0));
      for (let i = 0; i < 7; i++) log.append(1, ...Array<number>(10_000).fill(0));
      ssc.source(createMemoryLogSource(log, { name: 'in' })).foreachBatch(async (batch) => {
        const counts: number[] = [];
        for (let i = 0; i < batch.numPartitions; i++) counts.push((await batch.partition(i)).length);
        sizes.push(counts);
      });
      await ssc.start();
      await ssc.awaitTermination();
      return sizes.filter((s) => s.some((n) => n > 0));
    };
    const byDefault = await drain({});
    expect(byDefault[0]).toEqual([133_333, 66_666, 0]);
    expect(byDefault.flat().reduce((a, b) => a + b, 0)).toBe(210_000);
    expect(await drain({ maxRecordsPerBatch: Number.POSITIVE_INFINITY })).toEqual([[140_000, 70_000, 0]]);
  });

  it('backpressure lowers the records per batch when batches run slower than the interval', async () => {
    const clock = createVirtualClock(START);
    const ssc = testContext({ clock, backpressure: { minRate: 1 }, maxRecordsPerPartition: 1000 });
    const sizes: number[] = [];
    const log = logOf([Array.from({ length: 5000 }, (_, i) => i)]);
    ssc.source(createMemoryLogSource(log, { name: 'in' })).foreachBatch(async (batch) => {
      const n = await batch.count();
      sizes.push(n);
      clock.advance(Math.ceil(n * 4)); // 4 ms per record: 250 records/s is what this pipeline sustains
    });
    await ssc.start();
    await ssc.awaitTermination();
    expect(sizes[0]).toBe(1000);
    expect(sizes[1]).toBe(1000); // the first estimate only calibrates
    expect(Math.min(...sizes.slice(2, 6))).toBeLessThan(400);
  });
});
