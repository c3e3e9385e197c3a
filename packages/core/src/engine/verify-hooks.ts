import { canonicalJson } from '../canonical-json.js';
import { appendFileSync } from 'node:fs';
import type { Batch } from '../batch.js';
import { checkpointBatchTime } from '../checkpoint/format.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { BatchGeneration } from '../dstream/generation.js';
import type { StreamGraph } from '../dstream/graph.js';
import { invalidOption } from '../errors.js';
import type { Logger } from '../api/logger.js';
import type { ProtocolPoint, ResolvedOptions } from './options.js';

/**
 * Debug switches for the crash verifier (`microbatch-verify` in @microbatch/testkit), read from the
 * environment so they reach any program built on microbatch, whatever starts it. Off unless set;
 * nothing here changes what a batch computes or writes. See docs/semantics.md §12.
 */
export const VERIFY_ENV = {
  /** A file the engine appends JSON lines to: protocol points reached, the outputs and their guarantee, crashes, determinism findings. */
  trace: 'MICROBATCH_VERIFY_TRACE',
  /** `<point>@<n>`: SIGKILL this process the n-th time it reaches the point (counted over every task of the process). */
  crashAt: 'MICROBATCH_VERIFY_CRASH_AT',
  /** For `output:in-progress`: ms after the output starts (default 5). */
  crashDelayMs: 'MICROBATCH_VERIFY_CRASH_DELAY_MS',
  /** `1`: compute every batch twice before its outputs run and report the first output whose contents differ. */
  determinism: 'MICROBATCH_VERIFY_DETERMINISM',
  /** `1`: behave as with `stopWhenIdle: true`, so a run of any app ends once its input is consumed. */
  stopWhenIdle: 'MICROBATCH_VERIFY_STOP_WHEN_IDLE',
} as const;

/** Where a crash can be aimed: the protocol points plus two moments inside an output and a checkpoint write. */
export const VERIFY_CRASH_POINTS = [
  'plan:before-write',
  'checkpoint:during-write',
  'plan:after-write',
  'output:before',
  'output:in-progress',
  'output:after',
  'complete:before-write',
] as const;
export type VerifyCrashPoint = (typeof VERIFY_CRASH_POINTS)[number];

/** One line of the trace file. */
export type VerifyTraceLine =
  | { kind: 'point'; pid: number; appId: string; point: string; batchTime: number; attempt: number }
  | { kind: 'outputs'; pid: number; appId: string; outputs: Array<{ name: string; guarantee: 'idempotent' | 'transactional' | 'none'; via: 'sink' | 'foreachBatch' }> }
  | { kind: 'crash'; pid: number; appId: string; point: string; nth: number; batchTime: number; landed: string }
  | { kind: 'nondeterministic'; pid: number; appId: string; output: string; batchTime: number; partition: number; index: number; first: string; second: string };

interface Switches {
  readonly trace: string | undefined;
  readonly crash: { point: VerifyCrashPoint; nth: number; delayMs: number | 'offer' } | undefined;
  readonly determinism: boolean;
  readonly stopWhenIdle: boolean;
}

function parseSwitches(env: NodeJS.ProcessEnv): Switches | undefined {
  const trace = env[VERIFY_ENV.trace] || undefined;
  const crashAt = env[VERIFY_ENV.crashAt] || undefined;
  const determinism = flag(env, VERIFY_ENV.determinism);
  const stopWhenIdle = flag(env, VERIFY_ENV.stopWhenIdle);
  if (!trace && !crashAt && !determinism && !stopWhenIdle) return undefined;
  let crash: Switches['crash'];
  if (crashAt) {
    const match = /^([a-z:-]+)@(\d+)$/.exec(crashAt);
    const point = match?.[1] as VerifyCrashPoint | undefined;
    if (!match || !point || !VERIFY_CRASH_POINTS.includes(point) || Number(match[2]) < 1) {
      throw invalidOption(VERIFY_ENV.crashAt, `must be <point>@<n> with n >= 1 and point one of ${VERIFY_CRASH_POINTS.join(', ')}; got ${crashAt}`, crashAt);
    }
    const delay = env[VERIFY_ENV.crashDelayMs] ?? '5';
    if (!/^\d+$/.test(delay) && delay !== 'offer') throw invalidOption(VERIFY_ENV.crashDelayMs, `must be a whole number of ms or "offer", got ${delay}`, delay);
    crash = { point, nth: Number(match[2]), delayMs: delay === 'offer' ? 'offer' : Number(delay) };
  }
  return { trace, crash, determinism, stopWhenIdle };
}

function flag(env: NodeJS.ProcessEnv, name: string): boolean {
  const value = env[name];
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw invalidOption(name, `must be 1 or 0, got ${value}`, value);
}

// Read once per process: every task of a group member shares the crash count, as one process dies once.
let cached: { switches: Switches | undefined } | undefined;
const reached = new Map<string, number>();
let crashTimer: NodeJS.Timeout | undefined;
/** The armed output:in-progress kill waiting on its timer: an output may offer a better moment. */
let pendingOutputCrash: (() => Promise<never>) | undefined;
/** The batch whose outputs run now (its output:before), for an offered kill's trace line. */
let outputsOf: { appId: string; batchTime: number } | undefined;
/** With CRASH_DELAY_MS=offer: the batches whose outputs offered a kill so far (each counts once). */
const offered = new Set<string>();
const never = new Promise<never>(() => {});

function switches(): Switches | undefined {
  cached ??= { switches: parseSwitches(process.env) };
  return cached.switches;
}

function trace(line: VerifyTraceLine): void {
  const file = switches()?.trace;
  // Synchronous, so the line is on disk before a SIGKILL that may follow it at once.
  if (file) appendFileSync(file, `${JSON.stringify(line)}\n`);
}

function die(appId: string, point: string, nth: number, batchTime: number, landed: string): Promise<never> {
  trace({ kind: 'crash', pid: process.pid, appId, point, nth, batchTime, landed });
  process.kill(process.pid, 'SIGKILL');
  return never;
}

/** Counts a point and kills the process when it is the armed one's n-th reach. */
function reach(appId: string, point: string, batchTime: number, attempt: number): Promise<void> | undefined {
  trace({ kind: 'point', pid: process.pid, appId, point, batchTime, attempt });
  const crash = switches()?.crash;
  if (!crash) return undefined;
  if (point === 'output:before') outputsOf = { appId, batchTime };
  // Offer mode: output:in-progress is counted where outputs offer it, not at output:before.
  if (crash.delayMs === 'offer' && crash.point === 'output:in-progress') return undefined;
  if (point === 'output:after' && crashTimer) {
    // The outputs finished before the timer: die now, still before the batch's completion exists.
    clearTimeout(crashTimer);
    pendingOutputCrash = undefined;
    return die(appId, 'output:in-progress', crash.nth, batchTime, 'outputs finished first: at output:after');
  }
  const counted = crash.point === 'output:in-progress' && point === 'output:before' ? 'output:in-progress' : point;
  const n = (reached.get(counted) ?? 0) + 1;
  reached.set(counted, n);
  if (counted !== crash.point || n !== crash.nth) return undefined;
  if (counted === 'output:in-progress' && crash.delayMs !== 'offer') {
    crashTimer = setTimeout(() => void die(appId, counted, n, batchTime, `${crash.delayMs} ms into the outputs`), crash.delayMs);
    pendingOutputCrash = () => {
      clearTimeout(crashTimer);
      return die(appId, counted, n, batchTime, 'where an output offered it (offerOutputCrash)');
    };
    return undefined;
  }
  return die(appId, counted, n, batchTime, 'at the point');
}

/**
 * For an output's own code, e.g. right after a transactional sink's first send: when the verifier
 * aimed a kill at `output:in-progress` of this batch and its delay has not run out yet, the process
 * dies here, inside the output's open transaction, instead of at an arbitrary moment. A no-op
 * unless MICROBATCH_VERIFY_CRASH_AT arms that point.
 */
export async function offerOutputCrash(): Promise<void> {
  const armed = switches()?.crash;
  if (armed?.point === 'output:in-progress' && armed.delayMs === 'offer') {
    // Offer mode (CRASH_DELAY_MS=offer): only batches whose outputs offer count, so the kill always
    // lands inside an output's work, never in a batch that wrote nothing (a skipped replay).
    const at = outputsOf ?? { appId: '?', batchTime: 0 };
    const key = `${at.appId}\u0000${at.batchTime}`;
    if (offered.has(key)) return;
    offered.add(key);
    if (offered.size === armed.nth) await die(at.appId, 'output:in-progress', armed.nth, at.batchTime, 'where an output offered it (offerOutputCrash)');
    return;
  }
  const crash = pendingOutputCrash;
  if (!crash) return;
  pendingOutputCrash = undefined;
  await crash();
}

/** The resolved options with the switches applied (unchanged when none is set). */
export function withVerifyHooks(options: ResolvedOptions): ResolvedOptions {
  const s = switches();
  if (!s) return options;
  const { appId, atProtocolPoint } = options;
  return {
    ...options,
    stopWhenIdle: options.stopWhenIdle || s.stopWhenIdle,
    checkpoint: s.crash?.point === 'checkpoint:during-write' || s.trace ? wrapStore(options.checkpoint, appId) : options.checkpoint,
    atProtocolPoint: async (point: ProtocolPoint, info: { batchTime: number; attempt: number }) => {
      await atProtocolPoint?.(point, info);
      await reach(appId, point, info.batchTime, info.attempt);
    },
  };
}

/** `checkpoint:during-write`: the write is issued, and the process dies on the next turn of the event loop, before it is acknowledged. */
function wrapStore(store: CheckpointStore, appId: string): CheckpointStore {
  return {
    kind: store.kind,
    retain: store.retain,
    async write(checkpoint) {
      const writing = store.write(checkpoint);
      const batchTime = checkpointBatchTime(checkpoint);
      trace({ kind: 'point', pid: process.pid, appId, point: 'checkpoint:during-write', batchTime, attempt: 1 });
      const crash = switches()?.crash;
      if (crash?.point === 'checkpoint:during-write') {
        const n = (reached.get(crash.point) ?? 0) + 1;
        reached.set(crash.point, n);
        if (n === crash.nth) {
          writing.catch(() => {}); // the process is about to die; the write's outcome is what the test is about
          await new Promise((resolve) => setImmediate(resolve));
          return die(appId, crash.point, n, batchTime, 'write issued, not acknowledged');
        }
      }
      return writing;
    },
    acquireEpoch: (id) => store.acquireEpoch(id),
    currentEpoch: (id) => store.currentEpoch(id),
    latest: (id) => store.latest(id),
    list: (id) => store.list(id),
    read: (id, name) => store.read(id, name),
    putBlob: (id, key, data, epoch) => store.putBlob(id, key, data, epoch),
    getBlob: (id, key) => store.getBlob(id, key),
    listBlobs: (id) => store.listBlobs(id),
    close: () => store.close(),
  };
}

/** Tells the trace which outputs the program has and what each guarantees, as the engine knows it. */
export function traceOutputs(appId: string, graph: StreamGraph): void {
  if (!switches()?.trace) return;
  trace({
    kind: 'outputs',
    pid: process.pid,
    appId,
    outputs: graph.outputs.map((o) => (o.sink ? { name: o.name, guarantee: o.sink.guarantee, via: 'sink' as const } : { name: o.name, guarantee: 'none' as const, via: 'foreachBatch' as const })),
  });
}

const reportedOutputs = new Set<string>();

/**
 * `MICROBATCH_VERIFY_DETERMINISM=1`: computes the batch's outputs a second time from the same
 * logged plan, in this process, and compares them partition by partition; the first output whose
 * contents differ is traced and logged (once per output). The first computation is the one the
 * outputs then use. Stateful operators prepare a second transaction that is never committed.
 */
export async function checkBatchTwice(env: { appId: string; graph: StreamGraph; logger: Logger }, generation: BatchGeneration): Promise<void> {
  if (!switches()?.determinism) return;
  const outputs = env.graph.outputs;
  const first = await Promise.all(outputs.map((o) => partitionsOf(o.stream.batchFor(generation))));
  // A wall-clock read (Date.now()) in user code must see another millisecond the second time.
  await new Promise((resolve) => setTimeout(resolve, 2));
  const second: BatchGeneration = { ...generation, cache: new Map(), at: (time) => (time === generation.time ? second : generation.at(time)) };
  for (const operator of env.graph.stateful) await operator.prepare(second);
  for (const [i, output] of outputs.entries()) {
    const again = await partitionsOf(output.stream.batchFor(second));
    const difference = firstDifference(first[i]!, again);
    if (!difference) continue;
    if (reportedOutputs.has(output.name)) return;
    reportedOutputs.add(output.name);
    const line = { kind: 'nondeterministic' as const, pid: process.pid, appId: env.appId, output: output.name, batchTime: generation.time, ...difference };
    trace(line);
    env.logger.error(line, `output "${output.name}" computed different contents from the same input (batch ${generation.time}, partition ${difference.partition}, record ${difference.index}): user code is not deterministic`);
    return;
  }
}

async function partitionsOf(batch: Batch<unknown> | undefined): Promise<string[][]> {
  if (!batch) return [];
  const parts: string[][] = [];
  for (let i = 0; i < batch.numPartitions; i++) parts.push((await batch.partition(i)).map(canonicalJson));
  return parts;
}

function firstDifference(a: string[][], b: string[][]): { partition: number; index: number; first: string; second: string } | undefined {
  for (let p = 0; p < Math.max(a.length, b.length); p++) {
    const [x = [], y = []] = [a[p], b[p]];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      if (x[i] !== y[i]) return { partition: p, index: i, first: clip(x[i] ?? '(no record)'), second: clip(y[i] ?? '(no record)') };
    }
  }
  return undefined;
}

const clip = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}...` : text);

