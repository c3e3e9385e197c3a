import type { Logger } from '../api/logger.js';
import type { PartitionOffsets } from '../api/offsets.js';
import type { BatchRecord, Checkpoint } from '../checkpoint/format.js';
import { checkpointBatchTime } from '../checkpoint/format.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { StreamGraph } from '../dstream/graph.js';
import { MicrobatchError, invalidOption } from '../errors.js';

/** What a start resumes from: the newest valid checkpoint, minus reset streams. */
export interface RecoveredState {
  readonly checkpoint: Checkpoint | undefined;
  readonly seq: number;
  /** Per source name: its next offsets, or undefined for a source with no checkpoint data. */
  readonly offsets: Map<string, PartitionOffsets | undefined>;
  /** Planned but incomplete batches, in time order, to run again exactly as logged. */
  readonly pending: BatchRecord[];
  /** Every batch the checkpoint keeps (completed ones for state and windows, then pending ones). */
  readonly retained: BatchRecord[];
  /** Completed batches after the state snapshot: replayed (state only, no outputs) on start. */
  readonly stateReplay: BatchRecord[];
  /** The state snapshot to load: its batch time and blob key per operator (reset operators left out). */
  readonly snapshot: { time: number; keys: Record<string, string> } | undefined;
  /** Newest batch time the checkpoint mentions; new batches come strictly after it. */
  readonly lastBatchTime: number;
  readonly lastCompletedTime: number | undefined;
}

export async function recover(
  store: CheckpointStore,
  appId: string,
  graph: StreamGraph,
  resetStreams: readonly string[],
  logger: Logger,
): Promise<RecoveredState> {
  const latest = await store.latest(appId);
  const checkpoint = latest?.checkpoint;
  const names = graph.namedStreams().map((s) => s.name);
  const saved = checkpoint ? [...Object.keys(checkpoint.sources), ...Object.keys(checkpoint.operators)] : [];
  const reset = new Set(resetStreams);
  for (const name of reset) {
    if (!names.includes(name) && !saved.includes(name)) {
      throw invalidOption('resetStreams', `"${name}" names no stream of the program or the checkpoint`, name);
    }
  }
  if (checkpoint) {
    const missingFromProgram = saved.filter((n) => !names.includes(n) && !reset.has(n));
    const missingFromCheckpoint = names.filter((n) => !saved.includes(n) && !reset.has(n));
    if (missingFromProgram.length > 0 || missingFromCheckpoint.length > 0) {
      const parts = [
        missingFromProgram.length > 0 ? `the checkpoint has streams the program lacks: ${missingFromProgram.join(', ')}` : '',
        missingFromCheckpoint.length > 0 ? `the program has streams the checkpoint lacks: ${missingFromCheckpoint.join(', ')}` : '',
      ].filter(Boolean);
      throw new MicrobatchError(
        'GRAPH_MISMATCH',
        `The program does not match checkpoint ${latest!.name} of app ${appId}: ${parts.join('; ')}. ` +
          'Rename them back, or list them in the resetStreams option to start them afresh.',
        { details: { appId, checkpoint: latest!.name, missingFromProgram, missingFromCheckpoint } },
      );
    }
  }
  const offsets = new Map<string, PartitionOffsets | undefined>();
  for (const name of graph.sources.keys()) {
    offsets.set(name, reset.has(name) ? undefined : checkpoint?.sources[name]?.offsets);
  }
  const retained = (checkpoint?.batches ?? []).map((b) => ({ ...b, ranges: b.ranges.filter((r) => !reset.has(r.source)) }));
  const pending = retained.filter((b) => !b.completed);
  const snapshot = snapshotOf(checkpoint, reset);
  const stateReplay =
    graph.stateful.length === 0 ? [] : retained.filter((b) => b.completed && (snapshot === undefined || b.time > snapshot.time));
  if (checkpoint) {
    logger.info(
      { appId, checkpoint: latest!.name, epoch: checkpoint.epoch, pending: pending.map((b) => b.time), skippedCorrupt: latest!.skipped.length },
      'recovering from checkpoint',
    );
  }
  return {
    checkpoint,
    seq: checkpoint?.seq ?? 0,
    offsets,
    pending,
    retained,
    stateReplay,
    snapshot,
    lastBatchTime: checkpoint ? checkpointBatchTime(checkpoint) : 0,
    lastCompletedTime: checkpoint?.lastCompletedTime,
  };
}

function snapshotOf(checkpoint: Checkpoint | undefined, reset: ReadonlySet<string>): RecoveredState['snapshot'] {
  if (!checkpoint) return undefined;
  let time: number | undefined;
  const keys: Record<string, string> = {};
  for (const [name, operator] of Object.entries(checkpoint.operators)) {
    if (operator.snapshot === undefined || operator.snapshotBatchTime === undefined) continue;
    time = operator.snapshotBatchTime;
    if (!reset.has(name)) keys[name] = operator.snapshot;
  }
  return time === undefined ? undefined : { time, keys };
}
