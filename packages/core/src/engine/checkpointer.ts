import type { OffsetRange, PartitionOffsets } from '../api/offsets.js';
import { CHECKPOINT_FORMAT_VERSION, type BatchRecord, type Checkpoint, type OperatorCheckpoint } from '../checkpoint/format.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { Clock } from './clock.js';
import type { RecoveredState } from './recovery.js';

/**
 * Keeps the in-memory image of the next checkpoint (offsets, planned batches, completion) and
 * writes it. Completion of a batch becomes durable with the next write (usually the next plan).
 */
export class Checkpointer {
  private seq: number;
  private readonly offsets: Map<string, PartitionOffsets | undefined>;
  private batches: BatchRecord[];
  private lastCompletedTime: number | undefined;
  /** Oldest batch time each recent checkpoint could make us replay; sinks may forget older markers. */
  private readonly replayFloors: number[] = [];
  private snapshot: { time: number; keys: Record<string, string> } | undefined;

  constructor(
    private readonly store: CheckpointStore,
    private readonly appId: string,
    private readonly epoch: number,
    private readonly batchIntervalMs: number,
    private readonly clock: Clock,
    recovered: RecoveredState,
    /** Names of the program's stateful operators: listed in every checkpoint, snapshot or not. */
    private readonly operators: readonly string[],
    /** How far back windows read; completed batches that recent stay in the checkpoint. */
    private readonly rememberMs: number,
  ) {
    this.seq = recovered.seq;
    this.offsets = new Map(recovered.offsets);
    this.batches = [...recovered.retained];
    this.lastCompletedTime = recovered.lastCompletedTime;
    this.snapshot = recovered.snapshot;
    if (recovered.checkpoint) this.replayFloors.push(replayFloor(recovered.checkpoint.batches, recovered.lastBatchTime));
  }

  get snapshotTime(): number | undefined {
    return this.snapshot?.time;
  }

  /** State after batch `time` is in these blobs; the next write references them. */
  setSnapshot(time: number, keys: Record<string, string>): void {
    this.snapshot = { time, keys };
  }

  offsetsOf(source: string): PartitionOffsets | undefined {
    return this.offsets.get(source);
  }

  /** Records a new batch's plan and the offsets after it; durable only after write(). */
  addPlan(record: BatchRecord, nextOffsets: ReadonlyMap<string, PartitionOffsets>): void {
    this.batches.push(record);
    for (const [source, offsets] of nextOffsets) this.offsets.set(source, offsets);
  }

  markCompleted(time: number): void {
    this.batches = this.batches.map((b) => (b.time === time ? { ...b, completed: true } : b));
    this.lastCompletedTime = Math.max(this.lastCompletedTime ?? time, time);
    this.unrecorded.push(time);
  }

  private readonly unrecorded: number[] = [];

  hasUnrecordedCompletion(): boolean {
    return this.unrecorded.length > 0;
  }

  /**
   * Completed batches a restart still needs: those after the state snapshot (replayed to rebuild
   * state) and those within the window length (re-read by windows).
   */
  private retainedAfter(): number {
    const base = this.operators.length > 0 ? (this.snapshot?.time ?? Number.NEGATIVE_INFINITY) : (this.lastCompletedTime ?? Number.NEGATIVE_INFINITY);
    return Math.min(base, this.lastCompletedTime ?? Number.NEGATIVE_INFINITY) - this.rememberMs;
  }

  /**
   * Writes the checkpoint. Returns the ranges whose completion this write made durable (for
   * sources' monitoring commits) and the replay floor sinks may prune markers below.
   */
  async write(): Promise<{ durable: OffsetRange[]; retireBefore: number | undefined; seq: number }> {
    const newlyCompleted = new Set(this.unrecorded);
    const completed = this.batches.filter((b) => newlyCompleted.has(b.time));
    const floor = this.retainedAfter();
    const kept = this.batches.filter((b) => !b.completed || b.time > floor);
    const operators: Record<string, OperatorCheckpoint> = {};
    for (const name of this.operators) {
      const key = this.snapshot?.keys[name];
      operators[name] = key === undefined ? {} : { snapshot: key, snapshotBatchTime: this.snapshot!.time };
    }
    const sources: Record<string, { offsets: PartitionOffsets }> = {};
    for (const [name, offsets] of this.offsets) if (offsets) sources[name] = { offsets };
    const latestTime = Math.max(this.batches.at(-1)?.time ?? 0, this.lastCompletedTime ?? 0);
    const checkpoint: Checkpoint = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      appId: this.appId,
      epoch: this.epoch,
      seq: this.seq + 1,
      writtenAt: this.clock.now(),
      batchIntervalMs: this.batchIntervalMs,
      sources,
      operators,
      batches: kept,
      ...(this.lastCompletedTime === undefined ? {} : { lastCompletedTime: this.lastCompletedTime }),
      blobs: Object.values(this.snapshot?.keys ?? {}),
    };
    await this.store.write(checkpoint);
    this.seq = checkpoint.seq;
    this.batches = kept;
    this.unrecorded.splice(0, this.unrecorded.length);
    this.replayFloors.push(replayFloor(kept, latestTime));
    const retain = this.store.retain;
    let retireBefore: number | undefined;
    if (this.replayFloors.length > retain) {
      this.replayFloors.splice(0, this.replayFloors.length - retain);
      retireBefore = Math.min(...this.replayFloors);
    }
    return { durable: completed.flatMap((b) => b.ranges), retireBefore, seq: checkpoint.seq };
  }
}

/** A checkpoint can make a restart replay its listed batches; nothing older than the oldest of them. */
function replayFloor(batches: readonly BatchRecord[], latestTime: number): number {
  const open = batches.filter((b) => !b.completed);
  return open.length > 0 ? open[0]!.time : latestTime + 1;
}
