import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assignTasks, type TaskMember } from '../src/group/assigner.js';

/** The claim rule, restated: the claim under the member's current id, then the newer generation, then the lower id. */
function previousOwners(tasks: readonly number[], members: readonly TaskMember[]): Map<number, string> {
  const owners = new Map<number, string>();
  for (const task of tasks) {
    const claimants = members
      .filter((m) => m.claim?.tasks.includes(task))
      .sort(
        (a, b) =>
          Number(b.claim!.memberId === b.memberId) - Number(a.claim!.memberId === a.memberId) ||
          b.claim!.generation - a.claim!.generation ||
          (a.memberId < b.memberId ? -1 : 1),
      );
    if (claimants[0]) owners.set(task, claimants[0].memberId);
  }
  return owners;
}

const memberArb = (tasks: number) =>
  fc.record({
    claimed: fc.subarray(Array.from({ length: tasks + 2 }, (_, t) => t)), // may claim tasks that no longer exist
    generation: fc.integer({ min: 0, max: 4 }),
    expelled: fc.boolean(), // rejoined under a new id after its session expired
    hasClaim: fc.boolean(),
  });

const groupArb = fc.integer({ min: 0, max: 24 }).chain((tasks) =>
  fc.record({
    tasks: fc.constant(Array.from({ length: tasks }, (_, t) => t)),
    members: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 7 }).chain((ids) =>
      fc.tuple(...ids.map(() => memberArb(tasks))).map((specs) =>
        specs.map((s, i): TaskMember => {
          const id = ids[i]!;
          return s.hasClaim ? { memberId: id, claim: { memberId: s.expelled ? `${id}-old` : id, generation: s.generation, tasks: s.claimed } } : { memberId: id };
        }),
      ),
    ),
  }),
);

describe('the whole-task assignor', () => {
  it('every member gets an entry, every task exactly one owner, and counts differ by at most one', () => {
    fc.assert(
      fc.property(groupArb, ({ tasks, members }) => {
        const result = assignTasks(tasks, members);
        expect([...result.keys()].sort()).toEqual(members.map((m) => m.memberId).sort());
        expect([...result.values()].flat().sort((a, b) => a - b)).toEqual(tasks);
        const counts = [...result.values()].map((t) => t.length);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('is sticky: each member keeps as many of the tasks it owned as the balance lets it, and the most moves are the unavoidable ones', () => {
    fc.assert(
      fc.property(groupArb, ({ tasks, members }) => {
        const result = assignTasks(tasks, members);
        const owners = previousOwners(tasks, members);
        const base = Math.floor(tasks.length / members.length);
        let kept = 0;
        const ownedCounts: number[] = [];
        for (const m of members) {
          const owned = tasks.filter((t) => owners.get(t) === m.memberId);
          const keeps = result.get(m.memberId)!.filter((t) => owned.includes(t)).length;
          // Never fewer than the balance forces, and a member gives up none while under its share.
          expect(keeps).toBeGreaterThanOrEqual(Math.min(owned.length, base));
          kept += keeps;
          ownedCounts.push(owned.length);
        }
        // The best possible: the ceil shares go to the members that owned the most.
        const extra = tasks.length % members.length;
        const best = ownedCounts.sort((a, b) => b - a).reduce((sum, owned, i) => sum + Math.min(owned, base + (i < extra ? 1 : 0)), 0);
        expect(kept).toBe(best);
      }),
      { numRuns: 500 },
    );
  });

  it('is stable: the same members claiming their current tasks get exactly those again', () => {
    fc.assert(
      fc.property(groupArb, ({ tasks, members }) => {
        const first = assignTasks(tasks, members);
        const again = members.map((m): TaskMember => ({ memberId: m.memberId, claim: { memberId: m.memberId, generation: 9, tasks: first.get(m.memberId)! } }));
        expect(assignTasks(tasks, again)).toEqual(first);
      }),
      { numRuns: 300 },
    );
  });

  it('a member that rejoins after being expelled loses a contested task to the member that took it over', () => {
    const tasks = [0, 1, 2, 3];
    const zombie: TaskMember = { memberId: 'a-new', claim: { memberId: 'a-old', generation: 7, tasks: [0, 1] } };
    const survivor: TaskMember = { memberId: 'b', claim: { memberId: 'b', generation: 6, tasks: [0, 1, 2, 3] } };
    const result = assignTasks(tasks, [zombie, survivor]);
    // b keeps two of the four (the balance), and the zombie's stale claim does not decide which.
    expect(result.get('b')).toEqual([0, 1]);
    expect(result.get('a-new')).toEqual([2, 3]);
    // A claim that is current on both sides goes to the newer generation.
    const newer = assignTasks([0, 1], [
      { memberId: 'a', claim: { memberId: 'a', generation: 3, tasks: [0] } },
      { memberId: 'b', claim: { memberId: 'b', generation: 4, tasks: [0] } },
    ]);
    expect(newer.get('b')).toEqual([0]);
    expect(newer.get('a')).toEqual([1]);
  });

  it('a member added to a balanced group takes tasks only from the members above the new share', () => {
    const before = new Map([
      ['a', [0, 1, 2]],
      ['b', [3, 4, 5]],
    ]);
    const members: TaskMember[] = [...before].map(([id, owned]) => ({ memberId: id, claim: { memberId: id, generation: 1, tasks: owned } }));
    const result = assignTasks([0, 1, 2, 3, 4, 5], [...members, { memberId: 'c' }]);
    expect(result.get('a')).toEqual([0, 1]);
    expect(result.get('b')).toEqual([3, 4]);
    expect(result.get('c')).toEqual([2, 5]);
    // More members than tasks: the extra members are present, with no task.
    const few = assignTasks([0], [{ memberId: 'x' }, { memberId: 'y' }]);
    expect(few).toEqual(new Map([['x', [0]], ['y', []]]));
  });
});
