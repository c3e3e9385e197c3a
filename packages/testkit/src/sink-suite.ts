import { deepStrictEqual, ok, rejects } from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Batch, type OffsetRange, type OutputContext, type PartitionContext, type Sink, isMicrobatchError, silentLogger } from '@microbatch/core';

/** The bits of vitest / node:test / mocha the suite needs. */
type Describe = (name: string, fn: () => void) => void;
type It = (name: string, fn: () => Promise<void>) => void;

export interface SinkSuiteOptions<T> {
  readonly describe: Describe;
  readonly it: It;
  /** Shown in test names. */
  readonly name: string;
  /**
   * A sink writing to `target`, a fresh random name per test. The same `target` must mean the
   * same storage (another process writing the same table), a new one empty storage.
   */
  createSink(target: string): Sink<T> | Promise<Sink<T>>;
  /** Everything stored in `target`, in a canonical order, comparable with deepStrictEqual. */
  readBack(target: string): Promise<unknown>;
  /** Record `index` of partition `partitionId` of the batch at `batchTime`: a pure function. */
  record(batchTime: number, partitionId: number, index: number): T;
  /** Drops `target` after a test. */
  cleanup?(target: string): Promise<void>;
  readonly features?: {
    /** The sink refuses writes from an epoch older than one that wrote (FencedError). Default: true for transactional sinks. */
    readonly fencing?: boolean;
  };
}

interface TestBatch {
  readonly time: number;
  readonly partitions: readonly (readonly unknown[])[];
  readonly ranges: readonly (readonly OffsetRange[])[];
}

const INTERVAL = 1000;

/**
 * Conformance suite for sinks: whatever happens to a batch (replayed sequentially, after a crash
 * that wrote a random subset of its partitions, concurrently by several processes, by a restarted
 * process with a newer epoch), the target ends up equal to one clean write of each batch.
 * Transactional sinks must also refuse zombies (older epochs).
 */
export function sinkSuite<T>(options: SinkSuiteOptions<T>): void {
  const { describe, it } = options;
  const fencing = options.features?.fencing;

  describe(`sink conformance: ${options.name}`, () => {
    it('a clean write is readable and deterministic', () =>
      withRun(options, async (run) => {
        const batches = run.batches(3);
        for (const batch of batches) await run.write(run.target, batch);
        const state = await options.readBack(run.target);
        ok(Array.isArray(state) ? state.length > 0 : state !== undefined, 'readBack returned nothing after writing records');
        await run.expectClean(batches);
      }));

    it('replaying the latest batch any number of times equals one clean write', () =>
      withRun(options, async (run) => {
        const batches = run.batches(3);
        for (const batch of batches) {
          await run.write(run.target, batch);
          for (let i = run.int(1, 3); i > 0; i--) await run.write(run.target, batch, { attempt: i + 1 });
        }
        await run.expectClean(batches);
      }));

    it('a crash after a random subset of partitions, then a replay, equals one clean write', () =>
      withRun(options, async (run) => {
        const batches = run.batches(3);
        for (const batch of batches) {
          for (let i = run.int(1, 3); i > 0; i--) {
            await rejects(run.write(run.target, batch, { failing: run.subset(batch.partitions.length) }), /injected failure/);
          }
          await run.write(run.target, batch);
        }
        await run.expectClean(batches);
      }));

    it('concurrent replays by several sink instances equal one clean write', () =>
      withRun(options, async (run) => {
        const batches = run.batches(2);
        for (const batch of batches) {
          const writers = Array.from({ length: run.int(2, 4) }, (_, i) =>
            run.write(run.target, batch, { fresh: true, failing: i % 2 === 1 ? run.subset(batch.partitions.length) : undefined }),
          );
          const results = await Promise.allSettled(writers);
          ok(results.some((r) => r.status === 'fulfilled'), 'no full writer succeeded');
          // Whatever the race left, one more replay must complete it and change nothing else.
          await run.write(run.target, batch, { fresh: true });
        }
        await run.expectClean(batches);
      }));

    it('a restarted process (new instance, newer epoch) replays without duplicating', () =>
      withRun(options, async (run) => {
        const batches = run.batches(2);
        await run.write(run.target, batches[0]!, { epoch: 1 });
        await rejects(run.write(run.target, batches[1]!, { epoch: 1, failing: run.subset(batches[1]!.partitions.length) }), /injected failure/);
        await run.write(run.target, batches[1]!, { epoch: 2, fresh: true });
        await run.write(run.target, batches[1]!, { epoch: 3, fresh: true });
        await run.expectClean(batches);
      }));

    it('retire keeps batches that may still be replayed exactly-once', () =>
      withRun(options, async (run) => {
        const batches = run.batches(3);
        for (const batch of batches) await run.write(run.target, batch);
        const sink = await run.sink(run.target);
        await sink.retire?.({ appId: run.appId, epoch: 1, before: batches[2]!.time });
        await run.write(run.target, batches[2]!, { fresh: true });
        await run.expectClean(batches);
      }));

    it('close() is safe to call twice', () =>
      withRun(options, async (run) => {
        const sink = await options.createSink(run.target);
        await sink.open?.({ appId: run.appId, epoch: 1, logger: silentLogger });
        await sink.close?.();
        await sink.close?.();
      }));

    it('a stale epoch is refused with FencedError and writes nothing', () =>
      withRun(options, async (run, guarantee) => {
        if (!(fencing ?? guarantee === 'transactional')) {
          // Idempotent sinks cannot tell epochs apart: the feature flag says so, and this proves the flag.
          ok(guarantee === 'idempotent' || fencing === false, 'fencing disabled for a transactional sink');
          return;
        }
        const batches = run.batches(2);
        const zombie = await run.sink(run.target, true);
        await zombie.open?.({ appId: run.appId, epoch: 1, logger: silentLogger });
        await run.write(run.target, batches[0]!, { epoch: 2, fresh: true });
        await rejects(run.write(run.target, batches[1]!, { epoch: 1, sink: zombie }), (error: unknown) => isMicrobatchError(error, 'FENCED'));
        await run.expectClean([batches[0]!]);
      }));
  });
}

interface WriteOptions {
  epoch?: number;
  attempt?: number;
  /** Partitions whose write fails (a crash mid-batch). */
  failing?: ReadonlySet<number> | undefined;
  /** Write through a new sink instance (another process) instead of the run's shared one. */
  fresh?: boolean;
  sink?: Sink<unknown>;
}

class Run<T> {
  readonly appId = `suite-${randomBytes(4).toString('hex')}`;
  readonly target = randomName();
  readonly targets: string[] = [this.target];
  readonly sinks: Sink<T>[] = [];
  private readonly shared = new Map<string, Sink<T>>();
  private state: number;

  constructor(
    private readonly options: SinkSuiteOptions<T>,
    readonly seed: number,
  ) {
    this.state = seed;
  }

  /** mulberry32: a reproducible stream from the seed printed on failure. */
  random(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  /** A non-empty proper subset when there are 2+ partitions, else the single one. */
  subset(n: number): Set<number> {
    const chosen = new Set<number>();
    for (let i = 0; i < n; i++) if (this.random() < 0.5) chosen.add(i);
    if (chosen.size === 0) chosen.add(this.int(0, n - 1));
    if (chosen.size === n && n > 1) chosen.delete(this.int(0, n - 1));
    return chosen;
  }

  batches(count: number): TestBatch[] {
    const start = (1 + this.int(0, 1000)) * INTERVAL;
    const offsets = new Map<number, number>();
    return Array.from({ length: count }, (_, b) => {
      const time = start + b * INTERVAL;
      const numPartitions = this.int(1, 4);
      const partitions = Array.from({ length: numPartitions }, (_, p) => {
        // Sometimes empty: a partition with no new records still commits (and replays) correctly.
        const size = this.random() < 0.15 ? 0 : this.int(1, 25);
        return Array.from({ length: size }, (_, i) => this.options.record(time, p, i));
      });
      const ranges = partitions.map((records, p) => {
        const from = offsets.get(p) ?? 0;
        offsets.set(p, from + records.length);
        return [{ source: 'suite', partition: String(p), from, until: from + records.length }];
      });
      return { time, partitions, ranges };
    });
  }

  async sink(target: string, fresh = false): Promise<Sink<T>> {
    const existing = this.shared.get(target);
    if (existing && !fresh) return existing;
    const sink = await this.options.createSink(target);
    this.sinks.push(sink);
    if (!fresh) this.shared.set(target, sink);
    return sink;
  }

  async write(target: string, batch: TestBatch, options: WriteOptions = {}): Promise<void> {
    const sink = (options.sink as Sink<T> | undefined) ?? (await this.sink(target, options.fresh));
    const epoch = options.epoch ?? 1;
    await sink.open?.({ appId: this.appId, epoch, logger: silentLogger });
    const context: OutputContext = {
      appId: this.appId,
      epoch,
      batchTime: batch.time,
      attempt: options.attempt ?? 1,
      outputName: sink.name,
      offsetRanges: batch.ranges.flat(),
      signal: new AbortController().signal,
      logger: silentLogger,
    };
    const partitions = batch.partitions as readonly (readonly T[])[];
    const bound = options.failing
      ? new FailingBatch<T>(batch.time, partitions, batch.ranges, options.failing).bind(context)
      : Batch.fromPartitions(batch.time, partitions, batch.ranges).bind(context);
    await sink.write(bound, context);
  }

  /** The target equals a fresh target that got each batch once, cleanly. */
  async expectClean(batches: readonly TestBatch[]): Promise<void> {
    const reference = randomName();
    this.targets.push(reference);
    for (const batch of batches) await this.write(reference, batch, { fresh: true });
    const [actual, expected] = await Promise.all([this.options.readBack(this.target), this.options.readBack(reference)]);
    deepStrictEqual(actual, expected, `target differs from one clean write (seed ${this.seed})`);
  }
}

/**
 * A batch whose `failing` partitions fail as a crash would: the others are written, and the
 * write rejects only once they settled, so the test never races with its own stray writes.
 */
class FailingBatch<T> extends Batch<T> {
  constructor(
    time: number,
    private readonly parts: readonly (readonly T[])[],
    private readonly ranges: readonly (readonly OffsetRange[])[],
    private readonly failing: ReadonlySet<number>,
    output?: OutputContext,
  ) {
    super(
      time,
      parts.map((records, i) => ({ compute: async () => [...records], ranges: ranges[i] ?? [] })),
      output ? { output } : {},
    );
  }

  override bind(output: OutputContext): Batch<T> {
    return new FailingBatch(this.time, this.parts, this.ranges, this.failing, output);
  }

  override async foreachPartition(fn: (records: T[], context: PartitionContext) => void | Promise<void>): Promise<void> {
    const errors: unknown[] = [];
    await super.foreachPartition(async (records, context) => {
      try {
        if (this.failing.has(context.partitionId)) throw new Error(`injected failure in partition ${context.partitionId}`);
        await fn(records, context);
      } catch (error) {
        errors.push(error);
      }
    });
    if (errors.length > 0) throw errors[0];
  }

  /** A sink that reads the whole batch at once sees the crash before writing anything. */
  override async collect(): Promise<T[]> {
    throw new Error(`injected failure in partitions ${[...this.failing].join(', ')}`);
  }
}

async function withRun<T>(options: SinkSuiteOptions<T>, fn: (run: Run<T>, guarantee: Sink<T>['guarantee']) => Promise<void>): Promise<void> {
  const run = new Run(options, randomBytes(4).readUInt32LE());
  try {
    const probe = await run.sink(run.target);
    await fn(run, probe.guarantee);
  } finally {
    for (const sink of run.sinks) await sink.close?.();
    if (options.cleanup) for (const target of run.targets) await options.cleanup(target);
  }
}

function randomName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}
