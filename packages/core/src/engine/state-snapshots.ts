import { blobKey, type CheckpointStore } from '../checkpoint/store.js';
import type { StreamGraph } from '../dstream/graph.js';
import type { Checkpointer } from './checkpointer.js';
import type { BatchHistory } from './history.js';
import type { Logger } from '../api/logger.js';
import type { RecoveredState } from './recovery.js';
import type { RetryingCall } from './retry.js';

/**
 * The state of a task's stateful operators across restarts (§8): loaded from the snapshot and
 * rebuilt from the log on start, snapshotted at one batch time every checkpointIntervalMs.
 */
export class StateSnapshots {
  /** Batch time the next snapshot is measured from. */
  private base: number | undefined;

  constructor(
    private readonly env: {
      readonly appId: string;
      readonly epoch: number;
      readonly graph: StreamGraph;
      readonly store: CheckpointStore;
      readonly history: BatchHistory;
      readonly batchIntervalMs: number;
      readonly checkpointIntervalMs: number;
      readonly logger: Logger;
      readonly retrying: RetryingCall;
    },
  ) {}

  /**
   * Loads the state snapshot, then rebuilds state by recomputing (without outputs) every completed
   * batch logged after it, so state equals that of a run that never stopped.
   */
  async restore(recovered: RecoveredState): Promise<void> {
    const { graph, history, store, appId } = this.env;
    for (const batch of recovered.retained) history.remember(batch.time, batch.ranges);
    const { snapshot } = recovered;
    for (const operator of graph.stateful) {
      const key = snapshot?.keys[operator.name];
      if (snapshot && key) {
        await operator.restore(await store.getBlob(appId, key), snapshot.time, key);
      } else {
        operator.reset();
      }
    }
    this.base = snapshot?.time;
    for (const batch of recovered.stateReplay) {
      const generation = history.generation(batch.time, batch.ranges, 1);
      for (const operator of graph.stateful) await operator.prepare(generation);
      for (const operator of graph.stateful) operator.commit(generation);
      history.forgetBefore(batch.time);
    }
    if (recovered.stateReplay.length > 0) this.env.logger.info({ batches: recovered.stateReplay.length }, 'state rebuilt from snapshot and log');
  }

  /** Every checkpointIntervalMs of batch time, all stateful operators snapshot their state at the same batch. */
  async snapshotIfDue(checkpointer: Checkpointer, time: number): Promise<void> {
    const { graph, store, appId, epoch, retrying } = this.env;
    if (graph.stateful.length === 0) return;
    this.base ??= time - this.env.batchIntervalMs;
    if (time - this.base < this.env.checkpointIntervalMs) return;
    const keys: Record<string, string> = {};
    for (const operator of graph.stateful) {
      const key = blobKey(epoch, `state/${operator.name}/${String(time).padStart(16, '0')}`);
      await retrying(`writing the state snapshot of "${operator.name}"`, () => store.putBlob(appId, key, operator.snapshot(time), epoch));
      keys[operator.name] = key;
    }
    checkpointer.setSnapshot(time, keys);
    this.base = time;
  }
}
