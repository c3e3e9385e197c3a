/**
 * Who runs which task: a pure function, so it can be checked on its own. A task is one partition
 * number across every topic (task N = partition N of each topic that has one), and the assignment
 * hands out whole tasks only, so every partition of a task goes to the same member.
 */

/** What a member says, when it (re)joins, about the tasks it was running. */
export interface TaskClaim {
  /** The member id under which it was given these tasks; a member expelled from the group rejoins under a new id. */
  readonly memberId: string;
  /** The group generation it last heartbeated in: a newer one is the more recent owner. */
  readonly generation: number;
  readonly tasks: readonly number[];
}

export interface TaskMember {
  /** The member's current id in the group. */
  readonly memberId: string;
  readonly claim?: TaskClaim;
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Assigns every task to exactly one member, balanced (task counts differ by at most 1) and sticky
 * (a member keeps as many of its previous tasks as the balance allows). Every member is in the
 * result, possibly with no task. Deterministic: the same input gives the same assignment.
 *
 * A task two members claim (a member that stalled past its session timeout rejoins still claiming
 * what was since given to another) belongs to the claim still made under the member's current id,
 * then to the newer generation, then to the lower member id.
 */
export function assignTasks(tasks: readonly number[], members: readonly TaskMember[]): Map<string, number[]> {
  const sorted = [...members].sort((a, b) => byId(a.memberId, b.memberId));
  const result = new Map<string, number[]>(sorted.map((m) => [m.memberId, []]));
  if (sorted.length === 0) return result;
  const all = [...new Set(tasks)].sort((a, b) => a - b);

  // The previous owner of each task: the strongest claim among the members present.
  const rank = (m: TaskMember) => [m.claim!.memberId === m.memberId ? 1 : 0, m.claim!.generation] as const;
  const previous = new Map<number, TaskMember>();
  const valid = new Set(all);
  for (const member of sorted) {
    for (const task of new Set(member.claim?.tasks ?? [])) {
      if (!valid.has(task)) continue;
      const holder = previous.get(task);
      if (!holder) {
        previous.set(task, member);
        continue;
      }
      const [a, b] = [rank(member), rank(holder)];
      // Members are in id order, so on a full tie the lower id (the holder) keeps it.
      if (a[0] > b[0] || (a[0] === b[0] && a[1] > b[1])) previous.set(task, member);
    }
  }
  const owned = new Map<string, number[]>(sorted.map((m) => [m.memberId, []]));
  for (const task of all) {
    const owner = previous.get(task);
    if (owner) owned.get(owner.memberId)!.push(task);
  }

  // Quotas: floor or ceil of tasks/members; the ceil places go to the members that owned the most,
  // which is what keeps the most tasks where they are.
  const base = Math.floor(all.length / sorted.length);
  const extra = all.length % sorted.length;
  const quota = new Map<string, number>();
  [...sorted]
    .sort((a, b) => owned.get(b.memberId)!.length - owned.get(a.memberId)!.length || byId(a.memberId, b.memberId))
    .forEach((m, i) => quota.set(m.memberId, base + (i < extra ? 1 : 0)));

  const free: number[] = [];
  for (const member of sorted) {
    const keep = owned.get(member.memberId)!;
    const limit = quota.get(member.memberId)!;
    result.get(member.memberId)!.push(...keep.slice(0, limit));
    free.push(...keep.slice(limit));
  }
  for (const task of all) if (!previous.has(task)) free.push(task);
  free.sort((a, b) => a - b);
  for (const task of free) {
    // The member furthest below its quota; the lower id on a tie.
    let best: TaskMember | undefined;
    let room = 0;
    for (const member of sorted) {
      const left = quota.get(member.memberId)! - result.get(member.memberId)!.length;
      if (left > room) [best, room] = [member, left];
    }
    result.get(best!.memberId)!.push(task);
  }
  for (const list of result.values()) list.sort((a, b) => a - b);
  return result;
}

/** The tasks of a set of topics: the union of their partition numbers. */
export function tasksOfPartitions(partitionsByTopic: Readonly<Record<string, readonly number[]>>): number[] {
  return [...new Set(Object.values(partitionsByTopic).flat())].sort((a, b) => a - b);
}
