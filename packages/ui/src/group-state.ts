import type { GroupListener, StreamingListener, TaskStopReason } from '@microbatch/core';

/** One task this member runs, or ran. */
export interface TaskRow {
  readonly task: number;
  readonly state: 'running' | TaskStopReason;
  readonly epoch?: number;
  /** Records beyond the task's newest planned batch, summed over its partitions. */
  readonly lag?: number;
  /** Batch time of the task's newest completed batch. */
  readonly lastBatch?: number;
}

/** What a group member shows about its share of the work. */
export interface GroupView {
  /** The tasks this member owns now (its newest assignment), in order. */
  readonly tasks: readonly number[];
  /** Assignments after the first one: each is a rebalance of the group. */
  readonly rebalances: number;
  /** Every task this member ran since it started, in task order (stopped ones keep why). */
  readonly taskRows: readonly TaskRow[];
}

/**
 * Follows a group member (`group.addListener(tracker.listener)`): its assignments and, through
 * each task's own listener, the task's lag and newest batch. Used by the dashboard and by
 * `formatGroupStatus`; `onChange` is called after every change.
 */
export class GroupTracker {
  private assignments = 0;
  private owned: readonly number[] = [];
  private readonly rows = new Map<number, TaskRow>();
  readonly listener: GroupListener;

  constructor(private readonly onChange: () => void = () => {}) {
    this.listener = {
      onAssignment: ({ tasks }) => {
        this.assignments++;
        this.owned = [...tasks].sort((a, b) => a - b);
        this.onChange();
      },
      onTaskStarted: ({ task, epoch }) => this.patch(task, { state: 'running', epoch }),
      onTaskStopped: ({ task, reason }) => this.patch(task, { state: reason }),
      forTask: (task) => this.taskListener(task),
    };
  }

  get view(): GroupView {
    return {
      tasks: this.owned,
      rebalances: Math.max(0, this.assignments - 1),
      taskRows: [...this.rows.values()].sort((a, b) => a.task - b.task),
    };
  }

  /** The listener a task's context gets; the dashboard chains its own per-task listener after it. */
  taskListener(task: number): StreamingListener {
    return {
      onBatchSubmitted: (info) => {
        if (info.lag) this.patch(task, { lag: Object.values(info.lag).reduce((sum, p) => sum + Object.values(p).reduce((a, b) => a + b, 0), 0) });
      },
      onBatchCompleted: (info) => this.patch(task, { lastBatch: info.batchTime }),
    };
  }

  private patch(task: number, change: Partial<Omit<TaskRow, 'task'>>): void {
    this.rows.set(task, { ...(this.rows.get(task) ?? { state: 'running' }), ...change, task });
    this.onChange();
  }
}

const count = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/**
 * One line about a group member's share, for a CLI, e.g.
 *   tasks 0,2,4  rebalances 1  lag 0:120 2:0 4:35
 * Lag is per owned task (`task:records`), `–` for a task that has planned no batch yet.
 */
export function formatGroupStatus(view: GroupView): string {
  const byTask = new Map(view.taskRows.map((r) => [r.task, r]));
  const lag = view.tasks.map((t) => `${t}:${byTask.get(t)?.lag === undefined ? '–' : count.format(byTask.get(t)!.lag!)}`);
  return [`tasks ${view.tasks.length > 0 ? view.tasks.join(',') : 'none'}`, `rebalances ${view.rebalances}`, ...(lag.length > 0 ? [`lag ${lag.join(' ')}`] : [])].join('  ');
}
