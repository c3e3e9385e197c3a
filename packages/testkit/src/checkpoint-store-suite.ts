import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createMemorySinkData, createMemoryTransactionalSink } from './memory-sink.js';
import {
  CHECKPOINT_FORMAT_VERSION,
  StreamingGroup,
  blobKey,
  createStaticCoordinator,
  createVirtualClock,
  silentLogger,
  taskAppId,
  type Source,
  checkpointName,
  encodeCheckpoint,
  isMicrobatchError,
  type Checkpoint,
  type CheckpointStore,
  type CheckpointStoreOptions,
  type Logger,
  type MicrobatchErrorCode,
} from '@microbatch/core';

/** Groups of the conformance suite; a driver switches off the ones its backend cannot do. */
export interface CheckpointStoreSuiteFeatures {
  /** Epoch taking, fencing of older (and newer) epochs, concurrent acquisition. Default true. */
  fencing?: boolean;
  /** Keeping the last N checkpoints and collecting unreferenced blobs. Default true. */
  retention?: boolean;
  /** Blob round trips, streamed content, keys with "/". Default true. */
  blobs?: boolean;
  /** A second store instance on the same backend sees what the first wrote. Default true. */
  reopen?: boolean;
  /** Corrupt and truncated newest checkpoints. Runs only when `overwriteCheckpoint` is given. Default true. */
  corruption?: boolean;
  /** Two members of a StreamingGroup sharing an app's tasks on this store (docs/semantics.md §10). Default true. */
  tasks?: boolean;
}

type Test = (name: string, fn: () => Promise<void>) => unknown;

export interface CheckpointStoreSuiteOptions {
  /** The runner's describe (vitest, jest, node:test, mocha...). */
  describe: (name: string, fn: () => void) => unknown;
  /** The runner's it/test. */
  it: Test;
  /** The runner's expect; when given, equality checks go through it (richer diffs). Default: node:assert. */
  expect?: (actual: unknown) => { toStrictEqual(expected: unknown): void };
  /**
   * A store on the backend under test. Called once or more per test; every store a test creates
   * must see the same data (the suite uses random app ids, so the backend can be shared between tests).
   */
  createStore: (options: CheckpointStoreOptions) => CheckpointStore | Promise<CheckpointStore>;
  /**
   * Replaces the stored bytes of an existing checkpoint, bypassing the store, as damage by hand or
   * by disk would. Needed by the corruption group.
   */
  overwriteCheckpoint?: (appId: string, name: string, bytes: Uint8Array) => Promise<void>;
  features?: CheckpointStoreSuiteFeatures;
}

/** A random app id, so tests never see each other's data. */
export function randomAppId(prefix = 'app'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

export interface RecordingLogger extends Logger {
  /** Messages logged at each level, in order (the `msg` argument, or the string when only one is given). */
  readonly messages: { readonly debug: string[]; readonly info: string[]; readonly warn: string[]; readonly error: string[] };
}

/** A logger that keeps its messages, for tests that check what a store reported. */
export function createRecordingLogger(): RecordingLogger {
  const messages = { debug: [] as string[], info: [] as string[], warn: [] as string[], error: [] as string[] };
  const record = (level: keyof typeof messages) => (obj: object | string, msg?: string) =>
    void messages[level].push(typeof obj === 'string' ? obj : String(msg));
  const logger: RecordingLogger = {
    messages,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    child: () => logger,
  };
  return logger;
}

/** A valid checkpoint with `partitions` offsets for source "events" and one planned batch at `time`. */
export function sampleCheckpoint(
  appId: string,
  options: { epoch: number; seq: number; time: number; partitions?: number; blobs?: string[] },
): Checkpoint {
  const offsets: Record<string, number> = {};
  for (let p = 0; p < (options.partitions ?? 4); p++) offsets[String(p)] = options.seq * 100 + p;
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    appId,
    epoch: options.epoch,
    seq: options.seq,
    writtenAt: 1_700_000_000_000 + options.seq,
    batchIntervalMs: 1000,
    sources: { events: { offsets } },
    operators: options.blobs?.[0] ? { counts: { snapshot: options.blobs[0], snapshotBatchTime: options.time } } : {},
    batches: [{ time: options.time, completed: false, ranges: [{ source: 'events', partition: '0', from: 0, until: options.seq }] }],
    lastCompletedTime: options.time - 1000,
    blobs: options.blobs ?? [],
  };
}

async function expectCode(promise: Promise<unknown>, code: MicrobatchErrorCode): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isMicrobatchError(error, code), `expected a MicrobatchError ${code}, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected a MicrobatchError ${code}, but the call succeeded`);
}

async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The guarantees every checkpoint store makes, checked against the real backend: keyv-style, the
 * caller passes its runner's describe/it and a factory. Every test uses fresh random app ids and
 * closes the stores it opened.
 */
export function checkpointStoreSuite(options: CheckpointStoreSuiteOptions): void {
  const { describe, it } = options;
  const features = { fencing: true, retention: true, blobs: true, reopen: true, corruption: true, tasks: true, ...options.features };
  const equal = (actual: unknown, expected: unknown) =>
    options.expect ? options.expect(actual).toStrictEqual(expected) : assert.deepStrictEqual(actual, expected);

  /** Runs `fn` with a store factory and closes every store it made, pass or fail. */
  const withStores = (fn: (open: (o?: CheckpointStoreOptions) => Promise<CheckpointStore>) => Promise<void>) => async () => {
    const opened: CheckpointStore[] = [];
    try {
      await fn(async (o = {}) => {
        const store = await options.createStore(o);
        opened.push(store);
        return store;
      });
    } finally {
      for (const store of opened) await store.close();
    }
  };

  describe('checkpoint store conformance', () => {
    describe('basics', () => {
      it('a new app has no checkpoint, epoch 0 and an empty list', withStores(async (open) => {
        const store = await open();
        const appId = randomAppId();
        equal(await store.latest(appId), undefined);
        equal(await store.currentEpoch(appId), 0);
        equal(await store.list(appId), []);
      }));

      it('latest returns exactly what was written, and list sorts by batch time', withStores(async (open) => {
        const store = await open();
        const appId = randomAppId();
        const epoch = await store.acquireEpoch(appId);
        // 10000 sorts after 9000 only when names are zero-padded: the listing must sort by batch time.
        const written = [9000, 10_000, 110_000].map((time, i) => sampleCheckpoint(appId, { epoch, seq: i + 1, time }));
        for (const checkpoint of written) await store.write(checkpoint);
        const latest = await store.latest(appId);
        equal(latest?.checkpoint, written[2]);
        equal(latest?.skipped, []);
        equal(await store.list(appId), written.map((c) => checkpointName(c)));
        equal(await store.read(appId, checkpointName(written[0]!)), written[0]);
      }));

      it('rejects invalid app ids with INVALID_OPTION', withStores(async (open) => {
        const store = await open();
        await expectCode(store.latest('../escape'), 'INVALID_OPTION');
        await expectCode(store.acquireEpoch('a/b'), 'INVALID_OPTION');
      }));

      it('close is safe twice and later calls fail with STOPPED', async () => {
        const store = await options.createStore({});
        await store.close();
        await store.close();
        await expectCode(store.latest(randomAppId()), 'STOPPED');
      });
    });

    if (features.tasks) {
      describe('tasks of a group', () => {
        it('two members share four tasks on this store: every record once, each task its own epoch and checkpoints', withStores(async (open) => {
          const appId = randomAppId('group');
          const partitions = [0, 1, 2, 3].map((p) => Array.from({ length: 5 }, (_, i) => `p${p}-${i}`));
          const source = (): Source<string> => ({
            name: 'events',
            latestOffsets: async () => Object.fromEntries(partitions.map((records, p) => [String(p), records.length])),
            startOffsets: async (ps) => Object.fromEntries(ps.map((p) => [p, 0])),
            read: async (range) => partitions[Number(range.partition)]!.slice(range.from, range.until),
          });
          const sink = createMemorySinkData<string>();
          const members = [];
          for (const member of [0, 1]) {
            const store = await open({ logger: silentLogger });
            members.push(
              new StreamingGroup({
                appId,
                coordinator: createStaticCoordinator({ member, members: 2, tasks: 4 }),
                logger: silentLogger,
                stopOnSignals: false,
                context: { batchIntervalMs: 1000, checkpoint: store, clock: createVirtualClock(1_700_000_000_000), maxRecordsPerPartition: 2, stopWhenIdle: true },
                build: (ssc) => void ssc.source(source()).to(createMemoryTransactionalSink({ name: 'out', data: sink })),
              }),
            );
          }
          await Promise.all(members.map((m) => m.start()));
          await Promise.all(members.map((m) => m.awaitTermination()));
          const committed = [...sink.committed.values()].flatMap((c) => c.records).sort();
          equal(committed, partitions.flat().sort());
          equal(sink.mismatches, []);
          const store = await open({});
          for (let task = 0; task < 4; task++) {
            equal(await store.currentEpoch(taskAppId(appId, task)), 1);
            equal((await store.list(taskAppId(appId, task))).length > 0, true);
          }
          equal(await store.list(appId), []);
        }));
      });
    }

    describe('namespacing', () => {
      it('apps sharing a backend never see or delete each other\'s data', withStores(async (open) => {
        const store = await open({ retain: 1 });
        // One id is a prefix of the other, the classic way listings leak between namespaces.
        const a = randomAppId();
        const b = `${a}-b`;
        const ea = await store.acquireEpoch(a);
        const eb = await store.acquireEpoch(b);
        equal([ea, eb], [1, 1]);
        if (features.blobs) await store.putBlob(b, blobKey(eb, 'state'), Buffer.from('b state'), eb);
        await store.write(sampleCheckpoint(b, { epoch: eb, seq: 1, time: 1000, blobs: features.blobs ? [blobKey(eb, 'state')] : [] }));
        for (let seq = 1; seq <= 3; seq++) await store.write(sampleCheckpoint(a, { epoch: ea, seq, time: seq * 1000 }));
        await store.acquireEpoch(a);
        equal(await store.currentEpoch(b), 1);
        equal((await store.list(b)).length, 1);
        equal((await store.latest(b))?.checkpoint.appId, b);
        if (features.blobs) equal(await store.listBlobs(b), [blobKey(eb, 'state')]);
        equal((await store.latest(a))?.checkpoint.seq, 3);
      }));
    });

    if (features.reopen) {
      describe('reopen', () => {
        it('a second store instance sees checkpoints and epochs the first one wrote', withStores(async (open) => {
          const appId = randomAppId();
          const first = await open();
          const epoch = await first.acquireEpoch(appId);
          const checkpoint = sampleCheckpoint(appId, { epoch, seq: 1, time: 5000 });
          await first.write(checkpoint);
          await first.close();
          const second = await open();
          equal(await second.currentEpoch(appId), epoch);
          equal((await second.latest(appId))?.checkpoint, checkpoint);
        }));
      });
    }

    if (features.fencing) {
      describe('fencing', () => {
        it('acquireEpoch starts at 1 and increments', withStores(async (open) => {
          const store = await open();
          const appId = randomAppId();
          equal([await store.acquireEpoch(appId), await store.acquireEpoch(appId), await store.currentEpoch(appId)], [1, 2, 2]);
        }));

        it('writes from an older or a newer epoch fail with FENCED and change nothing', withStores(async (open) => {
          const store = await open();
          const appId = randomAppId();
          const old = await store.acquireEpoch(appId);
          await store.write(sampleCheckpoint(appId, { epoch: old, seq: 1, time: 1000 }));
          const current = await store.acquireEpoch(appId);
          const error = await expectCode(store.write(sampleCheckpoint(appId, { epoch: old, seq: 2, time: 2000 })), 'FENCED');
          equal((error as { details: Record<string, unknown> }).details.currentEpoch, current);
          await expectCode(store.write(sampleCheckpoint(appId, { epoch: current + 1, seq: 2, time: 2000 })), 'FENCED');
          if (features.blobs) await expectCode(store.putBlob(appId, blobKey(old, 'late'), Buffer.from('zombie'), old), 'FENCED');
          equal((await store.list(appId)).length, 1);
          if (features.blobs) equal(await store.listBlobs(appId), []);
          await store.write(sampleCheckpoint(appId, { epoch: current, seq: 2, time: 2000 }));
          equal((await store.latest(appId))?.checkpoint.epoch, current);
        }));

        it('a zombie writing in a loop never lands a checkpoint after a new epoch was taken', withStores(async (open) => {
          const appId = randomAppId();
          const [zombie, successor] = [await open({ retain: 1000 }), await open({ retain: 1000 })];
          const old = await zombie.acquireEpoch(appId);
          let fenced: unknown;
          const loop = (async () => {
            for (let seq = 1; ; seq++) {
              try {
                await zombie.write(sampleCheckpoint(appId, { epoch: old, seq, time: seq * 1000 }));
                // Yield to the event loop: an in-memory store never would, and the takeover must get a turn.
                await new Promise((resolve) => setImmediate(resolve));
              } catch (error) {
                fenced = error;
                return;
              }
            }
          })();
          await new Promise((resolve) => setTimeout(resolve, 50));
          await successor.acquireEpoch(appId);
          // Linearizable fencing: whatever the zombie had written is visible now, and nothing after.
          const atTakeover = await successor.list(appId);
          await loop;
          assert.ok(isMicrobatchError(fenced, 'FENCED'), `the zombie stopped with ${String(fenced)} instead of FENCED`);
          equal(await successor.list(appId), atTakeover);
        }));

        it('concurrent acquisitions from two store instances get distinct consecutive epochs', withStores(async (open) => {
          const appId = randomAppId();
          const [one, two] = [await open(), await open()];
          const epochs = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? one : two).acquireEpoch(appId)));
          equal([...epochs].sort((x, y) => x - y), Array.from({ length: 12 }, (_, i) => i + 1));
          equal(await one.currentEpoch(appId), 12);
        }));
      });
    }

    if (features.blobs) {
      describe('blobs', () => {
        it('round-trips whole and streamed blobs under keys with "/"', withStores(async (open) => {
          const store = await open();
          const appId = randomAppId();
          const epoch = await store.acquireEpoch(appId);
          const whole = blobKey(epoch, 'ops/counts/snapshot');
          const streamed = blobKey(epoch, 'ops/window');
          await store.putBlob(appId, whole, Buffer.from('whole blob'), epoch);
          await store.putBlob(appId, streamed, (async function* () {
            for (let i = 0; i < 50; i++) yield Buffer.from(`chunk ${i};`);
          })(), epoch);
          equal(await readAll(await store.getBlob(appId, whole)), 'whole blob');
          equal(await readAll(await store.getBlob(appId, streamed)), Array.from({ length: 50 }, (_, i) => `chunk ${i};`).join(''));
          equal((await store.listBlobs(appId)).sort(), [whole, streamed].sort());
          await expectCode(store.getBlob(appId, blobKey(epoch, 'missing')), 'BLOB_NOT_FOUND');
        }));
      });
    }

    if (features.retention) {
      describe('retention', () => {
        it('keeps the newest N checkpoints', withStores(async (open) => {
          const store = await open({ retain: 3 });
          const appId = randomAppId();
          const epoch = await store.acquireEpoch(appId);
          const written = [];
          for (let seq = 1; seq <= 6; seq++) {
            written.push(sampleCheckpoint(appId, { epoch, seq, time: seq * 1000 }));
            await store.write(written.at(-1)!);
          }
          equal(await store.list(appId), written.slice(3).map((c) => checkpointName(c)));
        }));

        if (features.blobs) {
          it('deletes blobs no retained checkpoint references, and keeps referenced ones', withStores(async (open) => {
            const store = await open({ retain: 2 });
            const appId = randomAppId();
            const epoch = await store.acquireEpoch(appId);
            const keys = [1, 2, 3].map((n) => blobKey(epoch, `state-${n}`));
            const orphan = blobKey(epoch, 'orphan-of-a-crash');
            await store.putBlob(appId, orphan, Buffer.from('orphan'), epoch);
            for (let seq = 1; seq <= 3; seq++) {
              await store.putBlob(appId, keys[seq - 1]!, Buffer.from(`state ${seq}`), epoch);
              await store.write(sampleCheckpoint(appId, { epoch, seq, time: seq * 1000, blobs: [keys[seq - 1]!] }));
            }
            equal((await store.listBlobs(appId)).sort(), keys.slice(1).sort());
            equal(await readAll(await store.getBlob(appId, keys[2]!)), 'state 3');
          }));

          it('never collects blobs of a newer epoch than the checkpoint being written', withStores(async (open) => {
            const store = await open({ retain: 1 });
            const appId = randomAppId();
            const epoch = await store.acquireEpoch(appId);
            await store.write(sampleCheckpoint(appId, { epoch, seq: 1, time: 1000 }));
            // Another process (a newer epoch) is writing its first blobs; then this process is fenced anyway,
            // but collection from a store instance with a stale view must not touch them either.
            const next = await store.acquireEpoch(appId);
            await store.putBlob(appId, blobKey(next, 'fresh'), Buffer.from('new'), next);
            await expectCode(store.write(sampleCheckpoint(appId, { epoch, seq: 2, time: 2000 })), 'FENCED');
            await store.write(sampleCheckpoint(appId, { epoch: next, seq: 2, time: 2000, blobs: [blobKey(next, 'fresh')] }));
            equal(await store.listBlobs(appId), [blobKey(next, 'fresh')]);
          }));
        }
      });
    }

    const overwrite = options.overwriteCheckpoint;
    if (features.corruption && overwrite) {
      describe('corruption', () => {
        const damages: Array<[string, (bytes: Uint8Array) => Uint8Array]> = [
          ['truncated', (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2))],
          ['filled with garbage', (bytes) => randomBytes(bytes.length)],
          ['edited by hand (checksum mismatch)', (bytes) => Buffer.from(Buffer.from(bytes).toString('utf8').replace('\\"seq\\":2', '\\"seq\\":7'))],
          ['empty', () => new Uint8Array(0)],
        ];
        for (const [what, damage] of damages) {
          it(`skips a newest checkpoint that is ${what}, reports it, and returns the previous one`, withStores(async (open) => {
            const logger = createRecordingLogger();
            const store = await open({ logger });
            const appId = randomAppId();
            const epoch = await store.acquireEpoch(appId);
            const good = sampleCheckpoint(appId, { epoch, seq: 1, time: 1000 });
            const newest = sampleCheckpoint(appId, { epoch, seq: 2, time: 2000 });
            await store.write(good);
            await store.write(newest);
            const damaged = damage(encodeCheckpoint(newest));
            assert.notDeepStrictEqual(Buffer.from(damaged), Buffer.from(encodeCheckpoint(newest)));
            await overwrite(appId, checkpointName(newest), damaged);
            const latest = await store.latest(appId);
            equal(latest?.checkpoint, good);
            equal(latest?.skipped.map((s) => [s.name, s.error.code]), [[checkpointName(newest), 'CHECKPOINT_CORRUPT']]);
            assert.ok(logger.messages.warn.length >= 1, 'the skipped checkpoint was not reported to the logger');
            await expectCode(store.read(appId, checkpointName(newest)), 'CHECKPOINT_CORRUPT');
          }));
        }

        it('refuses to start from scratch when every checkpoint is corrupt', withStores(async (open) => {
          const store = await open({ logger: createRecordingLogger() });
          const appId = randomAppId();
          const epoch = await store.acquireEpoch(appId);
          const only = sampleCheckpoint(appId, { epoch, seq: 1, time: 1000 });
          await store.write(only);
          await overwrite(appId, checkpointName(only), Buffer.from('{"formatVersion":1,"sha'));
          await expectCode(store.latest(appId), 'CHECKPOINT_CORRUPT');
        }));
      });
    }
  });
}
