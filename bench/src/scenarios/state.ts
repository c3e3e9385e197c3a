// Scenario 6: updateStateByKey over N keys — snapshot write time, restore time and peak RSS,
// against the live size of the same state held in a plain Map, written and read back as JSON lines
// by hand.
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, createVirtualClock, silentLogger, type CheckpointStore } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';

export interface StateArgs {
  readonly keys: number;
  readonly batches: number;
  readonly dir: string;
  /**
   * Force a full GC at the end of every batch's output and sample the heap: what the engine holds
   * at its fullest, without the garbage V8 keeps until its next major GC. A separate child, since
   * forcing GCs changes the RSS the plain ingest measures.
   */
  readonly sampleLiveHeap?: boolean;
}

const PARTITIONS = 8;
const keyOf = (index: number) => `user-${index}`;
const amountOf = (index: number) => (index * 7919) % 10_000;
type Total = [number, number];

const heapMB = () => {
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** A store that times snapshot writes and reads (the blob stream consumed in full) and counts their bytes. */
function timed(store: CheckpointStore, log: { putMs: number; getMs: number; bytes: number }): CheckpointStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'putBlob') {
        return async (appId: string, key: string, data: AsyncIterable<Uint8Array>, epoch: number) => {
          const start = performance.now();
          async function* counted() {
            for await (const chunk of data) {
              log.bytes += chunk.length;
              yield chunk;
            }
          }
          await target.putBlob(appId, key, counted(), epoch);
          log.putMs += performance.now() - start;
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

function program(args: StateArgs, store: CheckpointStore, onOutput: () => void = () => {}) {
  const ssc = new StreamingContext({
    appId: 'bench-state',
    batchIntervalMs: 1000,
    checkpoint: store,
    clock: createVirtualClock(1_000_000),
    maxRecordsPerPartition: Math.ceil(args.keys / PARTITIONS / args.batches),
    // One snapshot, after the batch that brings the last keys.
    checkpointIntervalMs: args.batches * 1000,
    stopWhenIdle: true,
    stopOnSignals: false,
    logger: silentLogger,
  });
  let stateSize = 0;
  ssc
    .source(
      createGeneratorSource({
        name: 'amounts',
        partitions: PARTITIONS,
        recordsPerPartition: (p) => Math.max(0, Math.ceil((args.keys - p) / PARTITIONS)),
        generate: ({ partition, offset }) => offset * PARTITIONS + partition,
      }),
    )
    .map((index): [string, number] => [keyOf(index), amountOf(index)])
    .updateStateByKey<string, number, Total>((values, total) => values.reduce(([n, a], v): Total => [n + 1, a + v], total ?? [0, 0]), { name: 'totals' })
    .foreachBatch(
      async (batch) => {
        stateSize = await batch.count();
        onOutput();
      },
      { name: 'count' },
    );
  return { ssc, stateSize: () => stateSize };
}

async function ingest(args: StateArgs) {
  const log = { putMs: 0, getMs: 0, bytes: 0 };
  const store = createFsCheckpointStore({ dir: args.dir, logger: silentLogger });
  let peakLiveHeapMB = 0;
  const sampleHeap = () => void (peakLiveHeapMB = Math.max(peakLiveHeapMB, heapMB()));
  const { ssc, stateSize } = program(args, timed(store, log), args.sampleLiveHeap ? sampleHeap : undefined);
  const start = performance.now();
  await ssc.start();
  await ssc.awaitTermination();
  const ms = performance.now() - start;
  await store.close();
  return { keys: stateSize(), ingestMs: ms, snapshotWriteMs: log.putMs, snapshotBytes: log.bytes, heapAfterMB: heapMB(), peakLiveHeapMB };
}

async function restore(args: StateArgs) {
  const store = createFsCheckpointStore({ dir: args.dir, logger: silentLogger });
  const { ssc, stateSize } = program(args, store);
  const start = performance.now();
  let startedAt = Number.NaN;
  ssc.addListener({ onStreamingStarted: () => (startedAt = performance.now()) });
  await ssc.start();
  const restoreMs = (Number.isNaN(startedAt) ? performance.now() : startedAt) - start;
  await ssc.awaitTermination();
  await store.close();
  return { keys: stateSize(), restoreMs, heapAfterMB: heapMB() };
}

/** The same state in a plain Map: its heap size is the live state size; JSON lines written with fsync and read back. */
async function live(args: StateArgs) {
  // RSS of a bench child before it holds anything: subtracted from the project's peak RSS.
  const baseRssMB = process.memoryUsage().rss / 2 ** 20;
  const before = heapMB();
  const state = new Map<string, Total>();
  for (let index = 0; index < args.keys; index++) state.set(keyOf(index), [1, amountOf(index)]);
  const liveMB = heapMB() - before;
  // A process that only builds this Map already peaks above it: V8's own heap headroom.
  const buildPeakRssMB = process.resourceUsage().maxRSS / 1024;
  const path = join(args.dir, 'live-state.jsonl');
  let start = performance.now();
  const handle = await open(path, 'w');
  let chunk = '';
  for (const entry of state) {
    chunk += `${JSON.stringify(entry)}\n`;
    if (chunk.length >= 256 * 1024) {
      await handle.write(chunk);
      chunk = '';
    }
  }
  await handle.write(chunk);
  await handle.sync();
  await handle.close();
  const writeMs = performance.now() - start;
  start = performance.now();
  const restored = new Map<string, Total>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (!line) continue;
    const [key, value] = JSON.parse(line) as [string, Total];
    restored.set(key, value);
  }
  const readMs = performance.now() - start;
  return { keys: restored.size, liveMB, baseRssMB, buildPeakRssMB, writeMs, readMs };
}

export const stateTasks = { 'state-ingest': ingest, 'state-restore': restore, 'state-live': live };
