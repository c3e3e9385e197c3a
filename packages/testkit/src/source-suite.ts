import assert from 'node:assert/strict';
import { isMicrobatchError, silentLogger, type OffsetRange, type ReadContext, type Source } from '@microbatch/core';

/** A fresh, empty partitioned log the source under test reads (a Kafka topic, an in-memory log...). */
export interface SourceSuiteLog<T> {
  /** The log's partition ids, as the source names them; `append` indexes into this list. */
  readonly partitions: readonly string[];
  /** Appends values to one partition; resolves once they are readable through a source. */
  append(partitionIndex: number, values: readonly string[]): Promise<void>;
  /** A new source over this log, as a new process would make it. Default start: `earliest`. */
  createSource(options?: { readonly startingOffsets?: 'earliest' | 'latest' }): Source<T> | Promise<Source<T>>;
  /** Makes offsets below `before` unavailable (retention). Needed by the `truncate` feature. */
  truncate?(partitionIndex: number, before: number): Promise<void>;
  /** Adds a partition and returns its id. Needed by the `addPartition` feature. */
  addPartition?(): Promise<string>;
  /** Frees the log's resources. */
  cleanup?(): Promise<void>;
}

export interface SourceSuiteOptions<T> {
  /** Test-runner hooks (vitest, node:test, jest...): the suite registers its tests through them. */
  readonly describe: (name: string, fn: () => void) => void;
  readonly it: (name: string, fn: () => Promise<void>, timeoutMs?: number) => void;
  /** Suite title. Default "Source conformance". */
  readonly name?: string;
  /** A fresh, randomly named log with `partitions` partitions. */
  readonly createLog: (options: { readonly partitions: number }) => Promise<SourceSuiteLog<T>>;
  /** The appended string a record carries (e.g. the decoded Kafka value). */
  readonly valueOf: (record: T) => string;
  /** The record's offset, when the element type exposes it: then offsets are checked too. */
  readonly offsetOf?: (record: T) => number;
  /** Optional behaviours the log supports; their tests are registered only when true. */
  readonly features?: { readonly truncate?: boolean; readonly addPartition?: boolean };
  /** Per-test timeout in ms. Default 30000. */
  readonly timeoutMs?: number;
}

function readContext(attempt = 1): ReadContext {
  return { appId: 'source-suite', batchTime: Date.now(), attempt, signal: new AbortController().signal, logger: silentLogger };
}

function values(count: number, prefix: string): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}

/**
 * Conformance tests every microbatch Source runs against its real backend: exact ranges, identical
 * replays from another instance, start offsets, discovered partitions, out-of-range errors.
 */
export function sourceSuite<T>(options: SourceSuiteOptions<T>): void {
  const { describe, it, createLog, valueOf, offsetOf } = options;
  const timeout = options.timeoutMs ?? 30_000;
  const features = options.features ?? {};

  /** Runs `fn` with a fresh log and an opened source over it, then closes and cleans up. */
  async function withLog(partitions: number, fn: (log: SourceSuiteLog<T>, source: Source<T>) => Promise<void>): Promise<void> {
    const log = await createLog({ partitions });
    const source = await log.createSource();
    try {
      await source.open?.({ appId: 'source-suite', logger: silentLogger });
      await fn(log, source);
    } finally {
      await source.close?.();
      await log.cleanup?.();
    }
  }

  async function readValues(source: Source<T>, partition: string, from: number, until: number): Promise<string[]> {
    const range: OffsetRange = { source: source.name, partition, from, until };
    const records = await source.read(range, readContext());
    if (offsetOf) {
      const offsets = records.map(offsetOf);
      for (let i = 0; i < offsets.length; i++) {
        assert.ok(offsets[i]! >= from && offsets[i]! < until, `offset ${offsets[i]} outside [${from}, ${until})`);
        if (i > 0) assert.ok(offsets[i]! > offsets[i - 1]!, 'offsets must increase within a range');
      }
    }
    return records.map(valueOf);
  }

  async function earliest(source: Source<T>, partition: string): Promise<number> {
    const start = await source.startOffsets([partition], 'discovered');
    assert.equal(typeof start[partition], 'number', `startOffsets gave no offset for ${partition}`);
    return start[partition]!;
  }

  describe(options.name ?? 'Source conformance', () => {
    it(
      'latestOffsets lists every partition, just past its newest record',
      () =>
        withLog(2, async (log, source) => {
          const [p0, p1] = log.partitions as [string, string];
          const before = await source.latestOffsets();
          assert.deepEqual(Object.keys(before).sort(), [...log.partitions].sort());
          await log.append(0, values(3, 'a'));
          await log.append(1, values(5, 'b'));
          const after = await source.latestOffsets();
          assert.equal(after[p0]! - (await earliest(source, p0)), 3);
          assert.equal(after[p1]! - (await earliest(source, p1)), 5);
        }),
      timeout,
    );

    it(
      'read returns exactly the records of [from, until), in order',
      () =>
        withLog(1, async (log, source) => {
          const [p] = log.partitions as [string];
          await log.append(0, values(10, 'v'));
          const start = await earliest(source, p);
          assert.deepEqual(await readValues(source, p, start + 2, start + 7), ['v-2', 'v-3', 'v-4', 'v-5', 'v-6']);
          assert.deepEqual(await readValues(source, p, start, start + 1), ['v-0']);
          assert.deepEqual(await readValues(source, p, start + 9, start + 10), ['v-9']);
        }),
      timeout,
    );

    it(
      'an empty range reads no records',
      () =>
        withLog(1, async (log, source) => {
          const [p] = log.partitions as [string];
          await log.append(0, values(2, 'v'));
          const start = await earliest(source, p);
          assert.deepEqual(await readValues(source, p, start + 1, start + 1), []);
        }),
      timeout,
    );

    it(
      'consecutive ranges cover the partition with no gap and no overlap',
      () =>
        withLog(1, async (log, source) => {
          const [p] = log.partitions as [string];
          await log.append(0, values(12, 'v'));
          const start = await earliest(source, p);
          const end = (await source.latestOffsets())[p]!;
          const parts = [
            ...(await readValues(source, p, start, start + 4)),
            ...(await readValues(source, p, start + 4, start + 5)),
            ...(await readValues(source, p, start + 5, end)),
          ];
          assert.deepEqual(parts, values(12, 'v'));
        }),
      timeout,
    );

    it(
      'a replayed range reads identical records from a new instance, whatever was appended since',
      () =>
        withLog(2, async (log, source) => {
          const [p0, p1] = log.partitions as [string, string];
          await log.append(0, values(6, 'x'));
          await log.append(1, values(4, 'y'));
          const latest = await source.latestOffsets();
          const ranges: [string, number, number][] = [
            [p0, await earliest(source, p0), latest[p0]!],
            [p1, await earliest(source, p1), latest[p1]!],
          ];
          const first = await Promise.all(ranges.map(([p, f, u]) => readValues(source, p, f, u)));
          await log.append(0, values(5, 'later'));
          await log.append(1, values(5, 'later'));
          const other = await log.createSource();
          try {
            await other.open?.({ appId: 'source-suite', logger: silentLogger });
            const replay = await Promise.all(ranges.map(([p, f, u]) => readValues(other, p, f, u)));
            assert.deepEqual(replay, first);
            assert.deepEqual(first, [values(6, 'x'), values(4, 'y')]);
          } finally {
            await other.close?.();
          }
        }),
      timeout,
    );

    it(
      'reads of different partitions may run concurrently and match sequential reads',
      () =>
        withLog(3, async (log, source) => {
          for (let i = 0; i < 3; i++) await log.append(i, values(20, `p${i}`));
          const latest = await source.latestOffsets();
          const ranges = await Promise.all(log.partitions.map(async (p) => [p, await earliest(source, p), latest[p]!] as const));
          const concurrent = await Promise.all(ranges.map(([p, f, u]) => readValues(source, p, f, u)));
          const sequential: string[][] = [];
          for (const [p, f, u] of ranges) sequential.push(await readValues(source, p, f, u));
          assert.deepEqual(concurrent, sequential);
          assert.deepEqual(concurrent, [values(20, 'p0'), values(20, 'p1'), values(20, 'p2')]);
        }),
      timeout,
    );

    it(
      'startOffsets: initial follows the starting position, discovered partitions start at their earliest',
      () =>
        withLog(1, async (log, source) => {
          const [p] = log.partitions as [string];
          await log.append(0, values(4, 'v'));
          const earliestOffset = await earliest(source, p);
          const latest = (await source.latestOffsets())[p]!;
          assert.deepEqual(await source.startOffsets([p], 'initial'), { [p]: earliestOffset });
          const fromLatest = await log.createSource({ startingOffsets: 'latest' });
          try {
            await fromLatest.open?.({ appId: 'source-suite', logger: silentLogger });
            assert.deepEqual(await fromLatest.startOffsets([p], 'initial'), { [p]: latest });
            assert.deepEqual(await fromLatest.startOffsets([p], 'discovered'), { [p]: earliestOffset });
          } finally {
            await fromLatest.close?.();
          }
        }),
      timeout,
    );

    if (features.addPartition) {
      it(
        'a partition added to the log shows up in latestOffsets and is readable',
        () =>
          withLog(1, async (log, source) => {
            await source.latestOffsets();
            const added = await log.addPartition!();
            const index = log.partitions.indexOf(added);
            assert.ok(index >= 0, 'addPartition must add the new id to log.partitions');
            await log.append(index, values(3, 'new'));
            const latest = await source.latestOffsets();
            assert.ok(added in latest, `latestOffsets does not list ${added}`);
            const start = await earliest(source, added);
            assert.deepEqual(await readValues(source, added, start, latest[added]!), values(3, 'new'));
          }),
        timeout,
      );
    }

    if (features.truncate) {
      it(
        'a range whose start is no longer available throws OFFSET_OUT_OF_RANGE, never a shorter result',
        () =>
          withLog(1, async (log, source) => {
            const [p] = log.partitions as [string];
            await log.append(0, values(10, 'v'));
            const start = await earliest(source, p);
            await log.truncate!(0, start + 5);
            await assert.rejects(
              source.read({ source: source.name, partition: p, from: start + 2, until: start + 8 }, readContext()),
              (error: unknown) => isMicrobatchError(error, 'OFFSET_OUT_OF_RANGE'),
            );
            assert.deepEqual(await readValues(source, p, start + 5, start + 8), ['v-5', 'v-6', 'v-7']);
            assert.equal(await earliest(source, p), start + 5);
          }),
        timeout,
      );
    }

    it(
      'close is safe to call twice',
      async () => {
        const log = await createLog({ partitions: 1 });
        try {
          const source = await log.createSource();
          await source.open?.({ appId: 'source-suite', logger: silentLogger });
          await source.latestOffsets();
          await source.close?.();
          await source.close?.();
        } finally {
          await log.cleanup?.();
        }
      },
      timeout,
    );
  });
}
