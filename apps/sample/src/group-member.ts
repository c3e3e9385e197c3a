import { StreamingGroup, type AppDescription, type CheckpointStore, type Logger } from '@microbatch/core';
import type { Database } from '@microbatch/sink-postgres';
import { GroupTracker, formatGroupStatus, formatStatusLine } from '@microbatch/ui';
import { openCoordinator, type Membership } from './coordinator.js';
import type { InputSpec } from './pipeline.js';
import { buildProgram, contextOptions, serveRunDashboard, type RunSettings } from './program.js';
import { BatchRejections } from './rejections.js';

export interface GroupMemberOptions {
  readonly appId: string;
  readonly membership: Membership;
  readonly input: InputSpec;
  readonly settings: RunSettings;
  readonly db: Database;
  readonly store: CheckpointStore;
  readonly logger: Logger;
  readonly quiet: boolean;
  readonly httpPort?: number;
}

/**
 * One member of the application's group: the tasks the coordinator assigns it (task N =
 * partition N of the input), each with its own checkpoints and sink markers under
 * `<appId>.task-N`. Prints its assignments and task starts and stops, then a line per batch
 * naming the task, or on a terminal one live line with its tasks, rebalances and lag per task.
 * Resolves with the batches and records it processed; rejects with the error that stopped it.
 */
export async function runGroupMember(o: GroupMemberOptions, write: (line: string) => void): Promise<{ batches: number; records: number }> {
  const rejections = new Map<number, BatchRejections>();
  let description: AppDescription | undefined;
  const group = new StreamingGroup({
    appId: o.appId,
    coordinator: await openCoordinator(o.membership, o.input),
    logger: o.logger,
    // The sample's input is co-partitioned by user (generate.ts: user u only in partition
    // u % P, where `produce` writes it), so updateStateByKey's per-user totals see every event of
    // a user in that user's one task; page_views is written additively (views = views + n) in the
    // same transaction as the events, so per-task increments sum to the whole topic's. Both
    // outputs equal a single process's (README, "Scaling out").
    shufflesWithinTask: true,
    context: (task) => contextOptions(o.settings, o.store, task),
    build: (ssc, task) => {
      const r = new BatchRejections(o.logger.child({ task }));
      rejections.set(task, r);
      buildProgram(ssc, o.input, o.db, r, task);
      description ??= ssc.description;
    },
  });
  const tracker = new GroupTracker();
  group.addListener(tracker.listener);
  let batches = 0;
  let records = 0;
  const live = process.stdout.isTTY === true && !o.quiet;
  group.addListener({
    onAssignment: ({ tasks }) => {
      if (!live) write(`tasks owned: ${tasks.length > 0 ? tasks.join(',') : 'none'} (${formatGroupStatus(tracker.view)})`);
    },
    onTaskStarted: ({ task, epoch }) => {
      if (!live) write(`task ${task} started (epoch ${epoch})`);
    },
    onTaskStopped: ({ task, reason }) => {
      if (!live) write(`task ${task} stopped: ${reason}`);
    },
    forTask: (task) => ({
      onBatchCompleted: (info) => {
        batches++;
        records += info.numRecords;
        const rejected = rejections.get(task)?.completed(info);
        const line = formatStatusLine(info, { task, batchIntervalMs: o.settings.batchIntervalMs, ...(rejected ? { rejected: rejected.total } : {}) });
        if (live) process.stdout.write(`\r\x1b[2K${formatGroupStatus(tracker.view)}  |  ${line}`);
        else if (!o.quiet) write(line);
      },
    }),
  });
  const dashboard = await serveRunDashboard(o.httpPort, (metrics) => (group.addListener(metrics.groupListener), { group, description: () => description! }), write);
  try {
    write(`joining the group of app ${o.appId} (${o.membership.kind === 'static' ? `static member ${o.membership.member}/${o.membership.members}` : 'Kafka consumer group'})`);
    await group.start();
    await group.awaitTermination();
  } finally {
    if (live) write('');
    await dashboard?.close();
  }
  return { batches, records };
}
