import { AssignerProtocol, type Admin, type ConsumerGroupJoinEvent, type Kafka, type PartitionAssigner, type Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { connectClients, createTopic, produce, topicName, until } from './helpers.js';

// kafkajs consumer groups (classic protocol: JoinGroup/SyncGroup/Heartbeat) with a custom
// assignor, the ground the scale-out work builds on. Runs in both vitest projects, so against
// Kafka 3.9 and 4.x (whose rewritten group coordinator serves classic groups beside KIP-848 ones).

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ kafka, admin, producer } = clients));

const ASSIGNOR = 'microbatch-test-blocks';

/**
 * Each member announces a label in its subscription's userData; the leader sorts members by label
 * and hands each a contiguous block of partitions. Round-robin over member ids (the kafkajs
 * default) never gives blocks, so the assignment seen proves this assignor ran on the leader.
 */
function blockAssignor(label: string): PartitionAssigner {
  return ({ cluster }) => ({
    name: ASSIGNOR,
    version: 1,
    async assign({ members, topics }) {
      const ranked = members
        .map((m) => ({ memberId: m.memberId, label: AssignerProtocol.MemberMetadata.decode(m.memberMetadata)!.userData.toString() }))
        .sort((a, b) => a.label.localeCompare(b.label));
      return ranked.map((member, rank) => {
        const assignment: Record<string, number[]> = {};
        for (const topic of topics) {
          const partitions = cluster
            .findTopicPartitionMetadata(topic)
            .map((p) => p.partitionId)
            .sort((a, b) => a - b);
          const size = Math.ceil(partitions.length / ranked.length);
          assignment[topic] = partitions.slice(rank * size, (rank + 1) * size);
        }
        // The member's own label goes back in the assignment's userData, for describeGroups below.
        const userData = Buffer.from(member.label);
        return { memberId: member.memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData }) };
      });
    },
    protocol({ topics }) {
      return { name: ASSIGNOR, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.from(label) }) };
    },
  });
}

async function startMember(groupId: string, topic: string, label: string) {
  const consumer = kafka.consumer({
    groupId,
    partitionAssigners: [blockAssignor(label)],
    sessionTimeout: 10_000,
    heartbeatInterval: 500,
    maxWaitTimeInMs: 100,
    allowAutoTopicCreation: false,
  });
  const joins: ConsumerGroupJoinEvent['payload'][] = [];
  const received: { partition: number; value: string }[] = [];
  let heartbeats = 0;
  consumer.on(consumer.events.GROUP_JOIN, (event) => joins.push(event.payload));
  consumer.on(consumer.events.HEARTBEAT, () => heartbeats++);
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async ({ partition, message }) => void received.push({ partition, value: String(message.value) }) });
  return {
    consumer,
    received,
    joins,
    heartbeats: () => heartbeats,
    /** Partitions of the topic in this member's newest assignment. */
    assigned: () => [...(joins.at(-1)?.memberAssignment[topic] ?? [])].sort((a, b) => a - b),
  };
}

describe('kafkajs consumer groups', () => {
  it('a custom assignor assigns on join, rebalances when a second member joins and when it leaves, with heartbeats', async () => {
    const topic = topicName('group');
    const groupId = `mbtest-group-${topic}`;
    await createTopic(admin, topic, 4);
    const a = await startMember(groupId, topic, 'a');
    let b: Awaited<ReturnType<typeof startMember>> | undefined;
    try {
      await until('the first member to join', () => a.joins.length > 0);
      expect(a.joins.at(-1)).toMatchObject({ groupProtocol: ASSIGNOR, isLeader: true });
      expect(a.assigned()).toEqual([0, 1, 2, 3]);
      const beats = a.heartbeats();
      await until('heartbeats of the sole member', () => a.heartbeats() >= beats + 2);

      b = await startMember(groupId, topic, 'b');
      const member2 = b;
      await until('both members to hold the two-member assignment', () => member2.assigned().length === 2 && a.assigned().length === 2);
      expect(a.assigned()).toEqual([0, 1]);
      expect(b.assigned()).toEqual([2, 3]);
      expect(b.joins.at(-1)).toMatchObject({ groupProtocol: ASSIGNOR });
      // Exactly one leader ran the assignor for the generation both joined.
      expect([a.joins.at(-1)!.isLeader, b.joins.at(-1)!.isLeader].filter(Boolean)).toHaveLength(1);

      const description = (await admin.describeGroups([groupId])).groups[0]!;
      expect(description).toMatchObject({ state: 'Stable', protocolType: 'consumer', protocol: ASSIGNOR });
      const described = description.members
        .map((m) => ({ label: AssignerProtocol.MemberAssignment.decode(m.memberAssignment)!.userData.toString(), assignment: AssignerProtocol.MemberAssignment.decode(m.memberAssignment)!.assignment }))
        .sort((x, y) => x.label.localeCompare(y.label));
      expect(described).toEqual([
        { label: 'a', assignment: { [topic]: [0, 1] } },
        { label: 'b', assignment: { [topic]: [2, 3] } },
      ]);

      // Each member fetches exactly its own partitions.
      for (let p = 0; p < 4; p++) await produce(producer, topic, p, [`p${p}`]);
      await until('every record to reach a member', () => a.received.length + member2.received.length === 4);
      expect(a.received.map((r) => r.partition).sort()).toEqual([0, 1]);
      expect(b.received.map((r) => r.partition).sort()).toEqual([2, 3]);

      // The second member leaves: the first takes every partition back.
      await b.consumer.disconnect();
      b = undefined;
      await until('the remaining member to take every partition back', () => a.assigned().length === 4);
      expect(a.assigned()).toEqual([0, 1, 2, 3]);
      const after = a.heartbeats();
      await until('heartbeats after the rebalance', () => a.heartbeats() >= after + 2);
    } finally {
      await Promise.all([a.consumer.disconnect(), b?.consumer.disconnect()]);
    }
  }, 120_000);
});
