import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

const { MemberMetadata, MemberAssignment } = AssignerProtocol;

/** Tells whether the reader reads a partition; undefined: every partition of its topics. */
export type OwnsPartition = (topic: string, partition: number) => boolean;

const PROTOCOL = 'microbatch-reader';

/**
 * The assignor of a reader's private group (its only member is the reader itself): it assigns the
 * partitions the reader's task owns, not every partition of the subscribed topics. A task of a
 * group reads one partition number of each topic; assigned all of them, each task's consumer would
 * track, pause and resume every partition of the topics (100 tasks x 1000 partitions where 1000
 * assignments do: bench scenario 8d).
 */
export function ownedPartitionsAssigner(owns: OwnsPartition | undefined): PartitionAssigner {
  return ({ cluster }) => ({
    name: PROTOCOL,
    version: 0,
    protocol({ topics }) {
      return { name: PROTOCOL, metadata: MemberMetadata.encode({ version: 0, topics, userData: Buffer.alloc(0) }) };
    },
    async assign({ members, topics }) {
      // kafkajs refreshed the leader's metadata just before calling assign, so partitions added
      // since the last join are listed here.
      const assignment: Record<string, number[]> = {};
      for (const topic of topics) {
        const partitions = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId);
        assignment[topic] = owns ? partitions.filter((p) => owns(topic, p)) : partitions;
      }
      // A private group has one member; should another ever join it, it gets nothing to read twice.
      return members.map(({ memberId }, i) => ({
        memberId,
        memberAssignment: MemberAssignment.encode({ version: 0, assignment: i === 0 ? assignment : {}, userData: Buffer.alloc(0) }),
      }));
    },
  });
}
