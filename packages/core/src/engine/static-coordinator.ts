import type { Coordinator } from '../api/coordinator.js';
import { invalidOption } from '../errors.js';

export interface StaticCoordinatorOptions {
  /** This member's index, 0-based. Required. */
  member: number;
  /** How many members the deployment has. Required. */
  members: number;
  /** How many tasks the application has: its sources' partition count (tasks 0..tasks-1). Required. */
  tasks: number;
}

/**
 * "Member i of n" for deployments without rebalancing: member i runs the tasks t with
 * t % n === i. Nothing moves when a member dies; a replacement started with the same index takes
 * its tasks over, and fencing protects the tasks from a stale member (two members configured
 * with the same index just fence each other's tasks back and forth, so give each its own).
 */
export function createStaticCoordinator(options: StaticCoordinatorOptions): Coordinator {
  const count = (name: keyof StaticCoordinatorOptions, min: number) => {
    const value = options?.[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalidOption(name, `must be an integer >= ${min}, got ${String(value)}`, value);
    return value;
  };
  const members = count('members', 1);
  const member = count('member', 0);
  const tasks = count('tasks', 1);
  if (member >= members) throw invalidOption('member', `must be below members (${members}), got ${member}`, member);
  const mine = Array.from({ length: tasks }, (_, t) => t).filter((t) => t % members === member);
  return {
    kind: 'static',
    async start(handlers) {
      handlers.assigned(mine);
    },
    async stop() {},
  };
}
