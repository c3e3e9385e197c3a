import { deepStrictEqual, equal, ok, rejects } from 'node:assert/strict';
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
  /** What the sink promises (checked against `sink.guarantee`); transactional sinks get more tests. */
  readonly guarantee: Sink<T>['guarantee'];
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
  /**
   * Tests a sink can leave out. A feature switched off means its tests are not registered at all,
   * so they are never counted as passing.
   */
  readonly features?: {
    /**
     * The sink refuses writes of an epoch older than one that claimed the output (FencedError).
     * Default true. Only an idempotent sink may switch it off.
     */
    readonly fencing?: boolean;
    /** The sink implements `retire`. Default: true for transactional sinks (idempotent ones have no markers to prune). */
    readonly retire?: boolean;
    /** The sink implements `lastCommittedBatch`. Default: true for transactional sinks. */
    readonly lastCommittedBatch?: boolean;
  };
  /**
   * A record the sink must refuse (a value its serializer throws on, one larger than the target
   * accepts...), for record `index` of partition `partitionId`. Given, the suite checks that a
   * write carrying it rejects with a MicrobatchError and leaves no partially written transaction:
   * the partitions that committed (per-partition sinks) hold exactly their records, the rest
   * nothing, and the clean replay completes the batch once. Log sinks (Kafka) need this most: a
   * transaction aborted in the middle of its sends must leave nothing readable.
   */
  badRecord?(batchTime: number, partitionId: number, index: number): T;
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
 * Sinks that fence (all transactional ones) must refuse zombies (older epochs); transactional
 * sinks must also report their newest committed batch (lastCommittedBatch) and prune markers
 * (retire) without forgetting what a replay needs.
 */
export function sinkSuite<T>(options: SinkSuiteOptions<T>): void {
  const { describe, it, guarantee } = options;
  const transactional = guarantee === 'transactional';
  const fencing = options.features?.fencing ?? true;
  const retire = options.features?.retire ?? transactional;
  const lastCommitted = options.features?.lastCommittedBatch ?? transactional;
  if (guarantee !== 'idempotent' && guarantee !== 'transactional') throw new Error(`sinkSuite ${options.name}: guarantee must be 'idempotent' or 'transactional'`);
  if (transactional && !fencing) throw new Error(`sinkSuite ${options.name}: a transactional sink must fence zombies (features.fencing: false is for idempotent sinks)`);

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

    if (retire) {
      it('retire keeps batches that may still be replayed exactly-once', () =>
        withRun(options, async (run) => {
          const batches = run.batches(3, { nonEmpty: true });
          for (const batch of batches) await run.write(run.target, batch);
          const sink = await run.sink(run.target);
          ok(typeof sink.retire === 'function', 'features.retire is on but the sink has no retire()');
          await sink.retire({ appId: run.appId, epoch: 1, before: batches[2]!.time });
          await run.write(run.target, batches[2]!, { fresh: true });
          await run.expectClean(batches);
        }));
    }

    if (lastCommitted) {
      it('lastCommittedBatch is the newest batch committed for the app, read by another instance, after replays and retire', () =>
        withRun(options, async (run) => {
          // Read through another instance than the writer: a restarted process asks the target.
          const reader = await run.sink(run.target, true);
          ok(typeof reader.lastCommittedBatch === 'function', 'features.lastCommittedBatch is on but the sink has no lastCommittedBatch()');
          const last = (appId = run.appId) => reader.lastCommittedBatch!({ appId });
          equal(await last(), undefined, 'lastCommittedBatch before any commit');
          const batches = run.batches(3);
          await run.write(run.target, batches[0]!);
          equal(await last(), batches[0]!.time);
          await run.write(run.target, batches[1]!);
          equal(await last(), batches[1]!.time, 'lastCommittedBatch after committing t1 < t2');
          // A replay of an older batch does not move it back.
          await run.write(run.target, batches[0]!, { attempt: 2 });
          equal(await last(), batches[1]!.time, 'lastCommittedBatch after replaying t1');
          if (retire) {
            // What the engine passes when no checkpoint holds a pending batch: past the newest one.
            const sink = await run.sink(run.target);
            await sink.retire!({ appId: run.appId, epoch: 1, before: batches[1]!.time + INTERVAL });
            equal(await last(), batches[1]!.time, 'retire pruned the newest batch');
          }
          equal(await last(`${run.appId}-other`), undefined, 'lastCommittedBatch of an app that never wrote');
        }));
    }

    if (options.badRecord) {
      const badRecord = options.badRecord.bind(options);
      it('a write refused for a bad record leaves nothing half-written; the clean replay completes the batch once', () =>
        withRun(options, async (run) => {
          const [first, second] = run.batches(2, { nonEmpty: true }) as [TestBatch, TestBatch];
          await run.write(run.target, first);
          // The bad record goes last in its partition, after records a careless sink has already sent.
          const bad = run.int(0, second.partitions.length - 1);
          const poisoned: TestBatch = {
            ...second,
            partitions: second.partitions.map((records, p) => (p === bad ? [...records, badRecord(second.time, p, records.length)] : records)),
          };
          await rejects(run.write(run.target, poisoned), (error: unknown) => isMicrobatchError(error));
          await run.write(run.target, second, { attempt: 2 });
          await run.expectClean([first, second]);
        }));
    }

    it('close() is safe to call twice', () =>
      withRun(options, async (run) => {
        const sink = await options.createSink(run.target);
        await sink.open?.({ appId: run.appId, epoch: 1, logger: silentLogger });
        await sink.close?.();
        await sink.close?.();
      }));

    if (fencing) {
      it('a zombie (older epoch) is refused with FencedError once a newer epoch wrote, and writes nothing', () =>
        withRun(options, async (run) => {
          // With records: a sink may skip a batch with nothing to write without asking the fence.
          const batches = run.batches(3, { nonEmpty: true });
          const zombie = await run.sink(run.target, true);
          await zombie.open?.({ appId: run.appId, epoch: 1, logger: silentLogger });
          await run.write(run.target, batches[0]!, { epoch: 1, sink: zombie }); // while it was the newest
          // It stalls; a restarted process (epoch 2) replays batch 0 and goes on with batch 1.
          await run.write(run.target, batches[0]!, { epoch: 2, fresh: true });
          await run.write(run.target, batches[1]!, { epoch: 2, fresh: true });
          // The zombie wakes: re-running the older batch would move values back; the next one is not its job.
          const fenced = (error: unknown) => isMicrobatchError(error, 'FENCED');
          await rejects(run.write(run.target, batches[0]!, { epoch: 1, sink: zombie }), fenced);
          await rejects(run.write(run.target, batches[2]!, { epoch: 1, sink: zombie }), fenced);
          await run.expectClean([batches[0]!, batches[1]!]);
        }));
    }
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

  /** `nonEmpty`: every batch has a record somewhere, for tests whose one replay must be able to show a duplicate. */
  batches(count: number, { nonEmpty = false } = {}): TestBatch[] {
    const start = (1 + this.int(0, 1000)) * INTERVAL;
    const offsets = new Map<number, number>();
    return Array.from({ length: count }, (_, b) => {
      const time = start + b * INTERVAL;
      const numPartitions = this.int(1, 4);
      // Sometimes empty: a partition with no new records still commits (and replays) correctly.
      const sizes = Array.from({ length: numPartitions }, (): number => (this.random() < 0.15 ? 0 : this.int(1, 25)));
      if (nonEmpty && !sizes.some((size) => size > 0)) sizes[0] = 1;
      const partitions = sizes.map((size, p) => Array.from({ length: size }, (_, i) => this.options.record(time, p, i)));
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
    const crash: Crash = { partialCollect: this.options.guarantee === 'idempotent', collected: false };
    const bound = options.failing
      ? new FailingBatch<T>(batch.time, partitions, batch.ranges, options.failing, crash).bind(context)
      : Batch.fromPartitions(batch.time, partitions, batch.ranges).bind(context);
    await sink.write(bound, context);
    // The sink read the batch whole and wrote what survived: the process dies right after.
    if (crash.collected) throw new Error(`injected failure after writing all but partitions ${[...options.failing!].join(', ')}`);
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

/** How a FailingBatch crashes a sink that reads it whole (`collect`). */
interface Crash {
  /**
   * Idempotent sinks: `collect` returns the records of the surviving partitions, so the sink
   * writes part of the batch (as a process killed between its chunks would leave it), and the
   * crash is raised once the write returned. Transactional sinks: `collect` throws, since a
   * sink that commits what `collect` returned with its markers must get the whole batch or none.
   */
  readonly partialCollect: boolean;
  /** Set when `collect` returned a partial batch. */
  collected: boolean;
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
    private readonly crash: Crash,
    output?: OutputContext,
  ) {
    super(
      time,
      parts.map((records, i) => ({ compute: async () => [...records], ranges: ranges[i] ?? [] })),
      output ? { output } : {},
    );
  }

  override bind(output: OutputContext): Batch<T> {
    return new FailingBatch(this.time, this.parts, this.ranges, this.failing, this.crash, output);
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

  override async collect(): Promise<T[]> {
    if (!this.crash.partialCollect) throw new Error(`injected failure in partitions ${[...this.failing].join(', ')}`);
    this.crash.collected = true;
    return this.parts.flatMap((records, i) => (this.failing.has(i) ? [] : [...records]));
  }
}

async function withRun<T>(options: SinkSuiteOptions<T>, fn: (run: Run<T>) => Promise<void>): Promise<void> {
  const run = new Run(options, randomBytes(4).readUInt32LE());
  try {
    const probe = await run.sink(run.target);
    equal(probe.guarantee, options.guarantee, `the sink's guarantee differs from the suite's option`);
    await fn(run);
  } finally {
    for (const sink of run.sinks) await sink.close?.();
    if (options.cleanup) for (const target of run.targets) await options.cleanup(target);
  }
}

function randomName(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}
