import type { Logger } from '../api/logger.js';
import type { PartitionOffsets } from '../api/offsets.js';
import type { BatchRecord, Checkpoint } from '../checkpoint/format.js';
import { batchTimeFromCheckpointName, checkpointBatchTime, seqFromCheckpointName } from '../checkpoint/format.js';
import type { CheckpointStore, LatestCheckpoint } from '../checkpoint/store.js';
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
  /** Newest batch time the checkpoint mentions (or a corrupt newer one's name); new batches come strictly after it. */
  readonly lastBatchTime: number;
  /** Newest batch time the valid checkpoint itself knows (planned or completed), 0 without one. */
  readonly checkpointedBatchTime: number;
  readonly lastCompletedTime: number | undefined;
}

export interface RecoveryOptions {
  readonly resetStreams: readonly string[];
  /** Fall back past corrupt newest checkpoints instead of refusing to start (see the option's doc). */
  readonly recoverFromOlderCheckpoint: boolean;
  /** Offsets to start from when there is no checkpoint (a task migrating from a single process). */
  readonly seed?: ReadonlyMap<string, PartitionOffsets>;
}

export async function recover(
  store: CheckpointStore,
  appId: string,
  graph: StreamGraph,
  { resetStreams, recoverFromOlderCheckpoint, seed }: RecoveryOptions,
  logger: Logger,
): Promise<RecoveredState> {
  const latest = await store.latest(appId);
  if (latest && latest.skipped.length > 0) refuseOrFallBack(store, appId, latest, recoverFromOlderCheckpoint, logger);
  const checkpoint = latest?.checkpoint;
  if (checkpoint && checkpoint.batchIntervalMs !== graph.batchIntervalMs) {
    // Windows and snapshots step through logged batches by the interval: with another one they
    // would read past batches at times that were never planned. Refuse rather than guess.
    throw invalidOption(
      'batchIntervalMs',
      `is ${graph.batchIntervalMs} ms, but checkpoint ${latest!.name} of app ${appId} was written with ${checkpoint.batchIntervalMs} ms; ` +
        'a running application keeps its interval (start a new app id to change it)',
      { configured: graph.batchIntervalMs, checkpointed: checkpoint.batchIntervalMs },
    );
  }
  const names = graph.namedStreams().map((s) => s.name);
  const saved = checkpoint ? [...Object.keys(checkpoint.sources), ...Object.keys(checkpoint.operators)] : [];
  const reset = new Set(resetStreams);
  for (const name of reset) {
    if (!names.includes(name) && !saved.includes(name)) {
      throw invalidOption('resetStreams', `"${name}" names no stream of the program or the checkpoint`, name);
    }
  }
  if (checkpoint) {
    // A stream the checkpoint lacks is new: pending batches replay without it (it has no ranges in
    // their plans) and it starts from its source's start offsets or its initial state. A stream
    // the program lacks was removed or renamed: its data would be dropped, so that stays a choice.
    const missingFromProgram = saved.filter((n) => !names.includes(n) && !reset.has(n));
    const added = names.filter((n) => !saved.includes(n) && !reset.has(n));
    if (missingFromProgram.length > 0) {
      throw new MicrobatchError(
        'GRAPH_MISMATCH',
        `The program does not match checkpoint ${latest!.name} of app ${appId}: the checkpoint has streams the program lacks: ` +
          `${missingFromProgram.join(', ')}${added.length > 0 ? ` (and the program has new streams: ${added.join(', ')})` : ''}. ` +
          'Rename them back, or list them in the resetStreams option to drop their checkpoint data.',
        { details: { appId, checkpoint: latest!.name, missingFromProgram, missingFromCheckpoint: added } },
      );
    }
    if (added.length > 0) logger.info({ appId, checkpoint: latest!.name, added }, 'the program has streams the checkpoint does not know; they start afresh');
  }
  const offsets = new Map<string, PartitionOffsets | undefined>();
  for (const name of graph.sources.keys()) {
    offsets.set(name, reset.has(name) ? undefined : checkpoint ? checkpoint.sources[name]?.offsets : seed?.get(name));
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
  // After a fallback, new checkpoints and batch times must come after the corrupt ones too: a new
  // batch under a lost plan's time could meet that plan's markers and be skipped over other ranges.
  const lost = latest?.skipped.map((s) => s.name) ?? [];
  const checkpointedBatchTime = checkpoint ? checkpointBatchTime(checkpoint) : 0;
  return {
    checkpoint,
    seq: Math.max(checkpoint?.seq ?? 0, ...lost.map(seqFromCheckpointName)),
    offsets,
    pending,
    retained,
    stateReplay,
    snapshot,
    lastBatchTime: Math.max(checkpointedBatchTime, ...lost.map(batchTimeFromCheckpointName)),
    checkpointedBatchTime,
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

/**
 * Newer checkpoints were corrupt. Falling back to an older one is only exact if the batches planned
 * in the lost ones replay with their logged times and ranges, which nothing here can know: refuse,
 * naming both, unless the user opted in to the risk of duplicates.
 */
function refuseOrFallBack(store: CheckpointStore, appId: string, latest: LatestCheckpoint, allowed: boolean, logger: Logger): void {
  const corrupt = latest.skipped.map((s) => s.name);
  const details = { appId, store: store.kind, corrupt, lastValid: latest.name };
  if (!allowed) {
    throw new MicrobatchError(
      'CHECKPOINT_CORRUPT',
      `The newest checkpoint(s) of app ${appId} in the ${store.kind} store are corrupt (${corrupt.join(', ')}); the newest valid one is ${latest.name}. ` +
        'Starting from it could output the batches planned in the corrupt ones a second time, so start is refused. ' +
        'Repair or restore the store, or set recoverFromOlderCheckpoint: true to start from the valid one and accept possible duplicates (docs/semantics.md §3).',
      { cause: latest.skipped[0]!.error, details },
    );
  }
  logger.error(details, 'newest checkpoints are corrupt: starting from an older one (recoverFromOlderCheckpoint); outputs of the lost batches may be produced twice');
}

/**
 * A transactional sink that committed a batch newer than every batch the checkpoint knows proves
 * the store lost entries (a corrupt or deleted file, a Redis without persistence that restarted):
 * planning from this checkpoint would output those records again under new batch times.
 */
export async function assertSinksNotAhead(
  graph: Pick<StreamGraph, 'outputs' | 'sources'>,
  appId: string,
  recovered: Pick<RecoveredState, 'checkpointedBatchTime' | 'checkpoint'>,
  allowed: boolean,
  logger: Logger,
): Promise<void> {
  const sources = [...graph.sources.values()];
  for (const output of graph.outputs) {
    // Without a checkpoint, sources that resume from this output's own committed offsets start
    // after its records: a deliberate recovery from the sink, exact, not a loss to refuse.
    if (!recovered.checkpoint && sources.every((s) => s.resumesFromOutput === output.name)) continue;
    const committed = await output.sink?.lastCommittedBatch?.({ appId });
    if (committed === undefined || committed <= recovered.checkpointedBatchTime) continue;
    const details = { appId, output: output.name, sinkBatchTime: committed, checkpointBatchTime: recovered.checkpointedBatchTime };
    if (allowed) {
      logger.error(details, 'a sink committed batches the checkpoint does not know (recoverFromOlderCheckpoint): their records may be output twice');
      continue;
    }
    throw new MicrobatchError(
      'CHECKPOINT_BEHIND_SINK',
      `Output "${output.name}" committed batch ${committed}, but the newest batch the checkpoint store knows for app ${appId} is ${recovered.checkpointedBatchTime}: ` +
        'the store lost its newest checkpoints, and going on would output those records again. Restore the store, ' +
        'or set recoverFromOlderCheckpoint: true to accept possible duplicates (docs/semantics.md §3).',
      { details },
    );
  }
}
