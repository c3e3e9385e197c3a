import { createStaticCoordinator, type Coordinator } from '@microbatch/core';
import { createKafkaGroupCoordinator } from '@microbatch/source-kafka';
import { Kafka, logLevel } from 'kafkajs';
import { UsageError } from './options.js';
import type { InputSpec } from './pipeline.js';

/** How a `run` takes part in its application's group: which coordinator decides its tasks. */
export type Membership = { readonly kind: 'kafka-group'; readonly sessionTimeoutMs: number } | { readonly kind: 'static'; readonly member: number; readonly members: number };

/** `--member I/N`: member I (0-based) of N. */
export function parseMember(value: string): Membership {
  const match = /^(\d+)\/(\d+)$/.exec(value);
  const member = Number(match?.[1]);
  const members = Number(match?.[2]);
  if (!match || members < 1 || member >= members) throw new UsageError(`--member is I/N with 0 <= I < N (member I of N), not "${value}"`);
  return { kind: 'static', member, members };
}

/** The application's tasks are its input's partition numbers (task N = partition N): how many there are. */
async function partitionCount(input: InputSpec): Promise<number> {
  if (input.kind === 'memory') return input.shape.partitions;
  const admin = new Kafka({ clientId: 'microbatch-sample', brokers: input.brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [input.topic] });
    return topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}

export async function openCoordinator(membership: Membership, input: InputSpec): Promise<Coordinator> {
  if (membership.kind === 'static') {
    return createStaticCoordinator({ member: membership.member, members: membership.members, tasks: await partitionCount(input) });
  }
  if (input.kind !== 'kafka') throw new UsageError('--group joins a Kafka consumer group: it needs --source kafka');
  // The consumer group is named after the app id, so every `run --group --app-id X` shares X's tasks.
  return createKafkaGroupCoordinator({ brokers: input.brokers, topics: [input.topic], sessionTimeoutMs: membership.sessionTimeoutMs });
}
