import type { Logger } from '@microbatch/core';
import { AssignerProtocol, type Cluster, type PartitionAssigner } from 'kafkajs';
import { assignTasks, type TaskClaim, type TaskMember } from './assigner.js';

const { MemberMetadata, MemberAssignment } = AssignerProtocol;

/** The protocol name every member offers; a member offering another cannot join the group. */
export const TASK_PROTOCOL = 'microbatch-tasks';
// Our own format version, inside userData: the kafkajs metadata header stays at v0, the layout
// kafkajs writes (a higher header would make Java-side parsers look for fields that are not there).
const CLAIM_VERSION = 1;

/** This member's side of the protocol: what it claims at each (re)join. */
export interface ClaimSource {
  claim(): TaskClaim;
}

interface UserData extends TaskClaim {
  readonly v: number;
  /** Partition count per topic as this member sees it: a member that saw partitions added rejoins with new metadata, which rebalances the group. */
  readonly partitions: Readonly<Record<string, number>>;
}

function partitionsOf(cluster: Cluster, topic: string): number[] {
  return cluster
    .findTopicPartitionMetadata(topic)
    .map((p) => p.partitionId)
    .sort((a, b) => a - b);
}

function decodeClaim(userData: Buffer): TaskClaim | undefined {
  if (userData.length === 0) return undefined;
  const data = JSON.parse(userData.toString('utf8')) as Partial<UserData>;
  if (data.v !== CLAIM_VERSION) throw new Error(`claim format ${String(data.v)}, expected ${CLAIM_VERSION}`);
  const { memberId, generation, tasks } = data;
  if (typeof memberId !== 'string' || typeof generation !== 'number' || !Array.isArray(tasks) || !tasks.every((t) => Number.isSafeInteger(t) && t >= 0)) {
    throw new Error('malformed claim');
  }
  return { memberId, generation, tasks };
}

const sameTopics = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().every((t, i) => t === [...b].sort()[i]);

/**
 * The kafkajs side of the whole-task assignment (see assignTasks). kafkajs calls `protocol()` at
 * every JoinGroup, so each member's metadata always carries the tasks it runs now; only the
 * group leader calls `assign()`, with every member's metadata.
 */
export function taskAssigner(claims: ClaimSource, logger: () => Logger): PartitionAssigner {
  return ({ cluster }) => ({
    name: TASK_PROTOCOL,
    version: 0,
    protocol({ topics }) {
      const userData: UserData = {
        v: CLAIM_VERSION,
        ...claims.claim(),
        partitions: Object.fromEntries(topics.map((t) => [t, partitionsOf(cluster, t).length])),
      };
      return { name: TASK_PROTOCOL, metadata: MemberMetadata.encode({ version: 0, topics, userData: Buffer.from(JSON.stringify(userData)) }) };
    },
    async assign({ members, topics }) {
      // kafkajs refreshed the leader's metadata just before calling assign.
      const partitions = Object.fromEntries(topics.map((t) => [t, new Set(partitionsOf(cluster, t))]));
      const tasks = [...new Set(Object.values(partitions).flatMap((set) => [...set]))];
      const eligible: TaskMember[] = [];
      for (const { memberId, memberMetadata } of members) {
        const metadata = MemberMetadata.decode(memberMetadata);
        if (!metadata || !sameTopics(metadata.topics, topics)) {
          // Task numbers span these topics: a member subscribed to others would lose the partitions kafkajs filters out.
          logger().warn({ memberId, topics: metadata?.topics, expected: topics }, 'a group member subscribes to other topics than the leader: it gets no task');
          continue;
        }
        let claim: TaskClaim | undefined;
        try {
          claim = decodeClaim(metadata.userData);
        } catch (error) {
          logger().warn({ memberId, err: error }, "a group member's task claim could not be read: its tasks are assigned as if it had none");
        }
        eligible.push(claim ? { memberId, claim } : { memberId });
      }
      const owners = assignTasks(tasks, eligible);
      return members.map(({ memberId }) => {
        const mine = owners.get(memberId) ?? [];
        const assignment = Object.fromEntries(topics.map((t) => [t, mine.filter((task) => partitions[t]!.has(task))]).filter(([, p]) => p!.length > 0));
        return { memberId, memberAssignment: MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }) };
      });
    },
  });
}
