import { StreamingContext, createMemoryCheckpointStore, silentLogger, type Batch, type Clock, type OutputContext, type Source, type SourceOpenContext } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';

export const SECRET_ERROR = 'audit store rejected the batch: postgres://audit:s3cret-pw@db.internal/audit';

/**
 * Failures on demand for the "audit" output, so tests decide which batch fails and can hold a
 * retried attempt while they look at the page.
 */
export function createFaults() {
  let mode: 'none' | 'once' | 'always' = 'none';
  let target: number | undefined;
  let hold: { reached: (time: number) => void; release: Promise<void>; open: () => void } | undefined;
  return {
    /** The next batch's first attempt fails; with `holdRetry`, its second attempt waits for `release()`. Resolves with the batch time once the retry runs. */
    failOnce(holdRetry = false): Promise<number> {
      mode = 'once';
      target = undefined;
      return new Promise<number>((reached) => {
        let open!: () => void;
        const release = new Promise<void>((resolve) => (open = resolve));
        hold = { reached, release: holdRetry ? release : Promise.resolve(), open };
      });
    },
    release(): void {
      hold?.open();
    },
    /** Every attempt of every batch from now on fails, so the context stops with BATCH_FAILED. */
    failAlways(): void {
      mode = 'always';
    },
    async output(batch: Batch<unknown>, context: OutputContext): Promise<void> {
      await batch.count();
      if (mode === 'always') throw new Error(SECRET_ERROR);
      if (mode !== 'once') return;
      target ??= context.batchTime;
      if (context.batchTime !== target) return;
      if (context.attempt === 1) throw new Error('audit store unavailable (first attempt)');
      mode = 'none';
      hold!.reached(context.batchTime);
      await hold!.release;
    },
  };
}

export type Faults = ReturnType<typeof createFaults>;

export interface PipelineOptions {
  clock?: Clock;
  batchIntervalMs?: number;
  /** Records per partition become available at this rate; default: 30 per partition, all at once. */
  ratePerPartition?: number;
  stopWhenIdle?: boolean;
  maxBatchAttempts?: number;
  retryBackoffMs?: number;
  /** The source reports every record whose offset is a multiple of 10 as rejected (reason "bad page", skipped). Default false. */
  rejecting?: boolean;
  /** Extra time the audit output takes per batch (a stand-in for real work). Default none. */
  workMs?: (batchTime: number) => number;
}

/**
 * The app the dashboard shows: a generator source "clicks" (2 partitions, at most 10 records per
 * partition per batch, so lag builds up), a stateful "page-totals" operator written to an
 * idempotent sink, and an "audit" foreachBatch whose failures the test controls.
 */
export function createPipeline(options: PipelineOptions = {}): { ssc: StreamingContext; faults: Faults } {
  const faults = createFaults();
  const ssc = new StreamingContext({
    appId: `ui-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    batchIntervalMs: options.batchIntervalMs ?? 200,
    checkpoint: createMemoryCheckpointStore(),
    ...(options.clock ? { clock: options.clock } : {}),
    logger: silentLogger,
    stopOnSignals: false,
    stopWhenIdle: options.stopWhenIdle ?? false,
    maxBatchAttempts: options.maxBatchAttempts ?? 3,
    // Failures here are made on purpose: stop after the attempts rather than ride them out.
    retryTimeoutMs: 0,
    retryBackoffMs: options.retryBackoffMs ?? 0,
  });
  const generator = createGeneratorSource({
      name: 'clicks',
      partitions: 2,
      recordsPerPartition: options.ratePerPartition ? Number.MAX_SAFE_INTEGER : 30,
      ...(options.ratePerPartition ? { ratePerPartition: options.ratePerPartition } : {}),
      maxRecordsPerPartition: 10,
      generate: ({ partition, offset }) => ({ partition, offset, page: `/p${(partition + offset) % 5}` }),
  });
  const clicks = ssc.source(options.rejecting ? rejecting(generator) : generator);
  clicks
    .map((c): [string, number] => [c.page, 1])
    .updateStateByKey<string, number, number>((values, total) => (total ?? 0) + values.length, { name: 'page-totals' })
    .to({
      name: 'totals',
      guarantee: 'idempotent',
      async write(batch) {
        await batch.collect();
      },
    });
  clicks.foreachBatch(
    async (batch, context) => {
      const work = options.workMs?.(context.batchTime) ?? 0;
      if (work > 0) await new Promise((resolve) => setTimeout(resolve, work));
      await faults.output(batch, context);
    },
    { name: 'audit' },
  );
  return { ssc, faults };
}

/** Reports the records at offsets that are multiples of 10 as rejected, one event per read, as a source with a skip policy does. */
function rejecting<T extends { offset: number }>(source: Source<T>): Source<T> {
  let report: SourceOpenContext['reportRejected'];
  return {
    ...source,
    open: async (context) => {
      report = context.reportRejected;
      await source.open?.(context);
    },
    latestOffsets: () => source.latestOffsets(),
    startOffsets: (partitions, reason) => source.startOffsets(partitions, reason),
    read: async (range, context) => {
      const records = await source.read(range, context);
      const count = records.filter((r) => r.offset % 10 === 0).length;
      if (count > 0) report?.({ source: source.name, reason: 'bad page', action: 'skipped', count, partition: range.partition });
      return records;
    },
  };
}
