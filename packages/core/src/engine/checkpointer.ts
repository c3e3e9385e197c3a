import type { OffsetRange, PartitionOffsets } from '../api/offsets.js';
import { CHECKPOINT_FORMAT_VERSION, type BatchRecord, type Checkpoint } from '../checkpoint/format.js';
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

  constructor(
    private readonly store: CheckpointStore,
    private readonly appId: string,
    private readonly epoch: number,
    private readonly batchIntervalMs: number,
    private readonly clock: Clock,
    recovered: RecoveredState,
  ) {
    this.seq = recovered.seq;
    this.offsets = new Map(recovered.offsets);
    this.batches = [...recovered.pending];
    this.lastCompletedTime = recovered.lastCompletedTime;
    if (recovered.checkpoint) this.replayFloors.push(replayFloor(recovered.checkpoint.batches, recovered.lastBatchTime));
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
  }

  hasUnrecordedCompletion(): boolean {
    return this.batches.some((b) => b.completed);
  }

  /**
   * Writes the checkpoint. Returns the ranges whose completion this write made durable (for
   * sources' monitoring commits) and the replay floor sinks may prune markers below.
   */
  async write(): Promise<{ durable: OffsetRange[]; retireBefore: number | undefined }> {
    const completed = this.batches.filter((b) => b.completed);
    const open = this.batches.filter((b) => !b.completed);
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
      operators: {},
      batches: open,
      ...(this.lastCompletedTime === undefined ? {} : { lastCompletedTime: this.lastCompletedTime }),
      blobs: [],
    };
    await this.store.write(checkpoint);
    this.seq = checkpoint.seq;
    this.batches = open;
    this.replayFloors.push(replayFloor(open, latestTime));
    const retain = this.store.retain;
    let retireBefore: number | undefined;
    if (this.replayFloors.length > retain) {
      this.replayFloors.splice(0, this.replayFloors.length - retain);
      retireBefore = Math.min(...this.replayFloors);
    }
    return { durable: completed.flatMap((b) => b.ranges), retireBefore };
  }
}

/** A checkpoint can make a restart replay its listed batches; nothing older than the oldest of them. */
function replayFloor(batches: readonly BatchRecord[], latestTime: number): number {
  const open = batches.filter((b) => !b.completed);
  return open.length > 0 ? open[0]!.time : latestTime + 1;
}
