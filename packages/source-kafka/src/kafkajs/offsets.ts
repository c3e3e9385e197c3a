import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '@microbatch/core';
import type { Kafka, PartitionMetadata } from 'kafkajs';
import type { PartitionWatermarks } from '../reader.js';
import { createBareCluster } from './isolation.js';
import { LazyConnection } from './lazy-connection.js';
import type { OwnsPartition } from './owned-assigner.js';

// Attempts of one offsets call when the broker answers with a retriable error.
const ATTEMPTS = 5;

/** The part of kafkajs' (untyped, internal) Cluster that listing offsets uses. */
interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  metadata(request?: { topics?: string[] }): Promise<{ topicMetadata: { topic: string; partitionMetadata: PartitionMetadata[] }[] }>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findTopicPartitionMetadata(topic: string): PartitionMetadata[];
  fetchTopicsOffset(
    topics: { topic: string; fromBeginning: boolean; partitions: { partition: number }[] }[],
  ): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
}

type TopicPartitions = { topic: string; partitions: number[] };

/**
 * Topic listing and ListOffsets for the reader, on a bare kafkajs cluster: the watermarks of all
 * the partitions a batch plans, over every topic, in two ListOffsets requests per broker (log
 * start and end), where the admin API takes a metadata request plus two ListOffsets per topic.
 * Only the partitions the reader owns are listed (one task of a group: bench scenario 8d, 100
 * tasks over 10 topics of 100 partitions).
 */
export class OffsetLister {
  private readonly clusters: LazyConnection<Cluster>;

  constructor(
    kafka: Kafka,
    private readonly logger: Logger,
    private readonly backoff: { readonly retryInitialMs: number; readonly retryMaxMs: number },
    private readonly owns: OwnsPartition | undefined,
  ) {
    this.clusters = new LazyConnection(() => createBareCluster(kafka) as Cluster);
  }

  async listTopics(): Promise<string[]> {
    const { topicMetadata } = await (await this.cluster()).metadata();
    return topicMetadata.map((t) => t.topic).filter((t) => !t.startsWith('__'));
  }

  /** Watermarks of the (owned) partitions of `topics`; topics that do not exist are left out. */
  async watermarks(topics: readonly string[]): Promise<PartitionWatermarks[]> {
    if (topics.length === 0) return [];
    return this.retrying('watermarks', async (cluster) => {
      const wanted = await this.partitionsOf(cluster, topics);
      if (wanted.length === 0) return [];
      const [low, high] = (await Promise.all([this.offsets(cluster, wanted, true), this.offsets(cluster, wanted, false)])).map(byPartition);
      return wanted.flatMap(({ topic, partitions }) =>
        partitions.map((partition) => ({ topic, partition, low: offsetOf(low!, topic, partition), high: offsetOf(high!, topic, partition) })),
      );
    });
  }

  /** The log start offset of one partition (one ListOffsets request to its leader). */
  async logStart(topic: string, partition: number): Promise<number> {
    return this.retrying('log start', async (cluster) => {
      await cluster.addMultipleTargetTopics([topic]);
      if (!cluster.findTopicPartitionMetadata(topic).some((p) => p.partitionId === partition)) await cluster.refreshMetadata();
      if (!cluster.findTopicPartitionMetadata(topic).some((p) => p.partitionId === partition)) {
        throw new Error(`partition ${topic}:${partition} is not in the cluster's metadata`);
      }
      return offsetOf(byPartition(await this.offsets(cluster, [{ topic, partitions: [partition] }], true)), topic, partition);
    });
  }

  async close(): Promise<void> {
    await this.clusters.close();
  }

  private cluster(): Promise<Cluster> {
    return this.clusters.get();
  }

  /**
   * The existing topics among `topics` with their (owned) partitions, from a fresh metadata
   * response, so partitions added since the last batch are listed. The cluster's own metadata
   * (which ListOffsets uses to find leaders) is refreshed when it lacks one of them.
   */
  private async partitionsOf(cluster: Cluster, topics: readonly string[]): Promise<TopicPartitions[]> {
    let metadata: Awaited<ReturnType<Cluster['metadata']>>['topicMetadata'];
    try {
      metadata = (await cluster.metadata({ topics: [...topics] })).topicMetadata;
    } catch (error) {
      // A topic that does not exist (yet) fails the whole request: list every topic instead.
      if ((error as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw error;
      const wanted = new Set(topics);
      metadata = (await cluster.metadata()).topicMetadata.filter((t) => wanted.has(t.topic));
    }
    const owns = this.owns;
    const present = metadata.map(({ topic, partitionMetadata }) => {
      const partitions = partitionMetadata.map((p) => p.partitionId).sort((a, b) => a - b);
      return { topic, partitions: owns ? partitions.filter((p) => owns(topic, p)) : partitions, count: partitions.length };
    });
    if (present.length === 0) return [];
    await cluster.addMultipleTargetTopics(present.map((t) => t.topic));
    if (present.some((t) => cluster.findTopicPartitionMetadata(t.topic).length < t.count)) await cluster.refreshMetadata();
    return present.filter((t) => t.partitions.length > 0).map(({ topic, partitions }) => ({ topic, partitions }));
  }

  private async offsets(cluster: Cluster, wanted: readonly TopicPartitions[], fromBeginning: boolean) {
    return cluster.fetchTopicsOffset(wanted.map(({ topic, partitions }) => ({ topic, fromBeginning, partitions: partitions.map((partition) => ({ partition })) })));
  }

  /**
   * kafkajs retries only some failures itself; a leader that moved or is not ready yet
   * (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE: a restarted broker, a topic created a moment
   * ago) is a retriable protocol error that it passes on at once. Retried here with the source's
   * backoff, after a metadata refresh, a few times, before planning fails.
   */
  private async retrying<R>(what: string, call: (cluster: Cluster) => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      const cluster = await this.cluster();
      try {
        return await call(cluster);
      } catch (error) {
        const { name, retriable } = error as { name?: string; retriable?: boolean };
        if (name !== 'KafkaJSProtocolError' || retriable !== true || attempt >= ATTEMPTS) throw error;
        this.logger.debug({ what, attempt, err: error }, 'ListOffsets failed with a retriable error; retrying');
        await sleep(Math.min(this.backoff.retryInitialMs * 2 ** (attempt - 1), this.backoff.retryMaxMs));
        await cluster.refreshMetadata().catch(() => {});
      }
    }
  }
}

type Listed = Awaited<ReturnType<Cluster['fetchTopicsOffset']>>;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

function byPartition(response: Listed): Map<string, number> {
  const offsets = new Map<string, number>();
  for (const { topic, partitions } of response) for (const p of partitions) offsets.set(key(topic, p.partition), Number(p.offset));
  return offsets;
}

function offsetOf(offsets: ReadonlyMap<string, number>, topic: string, partition: number): number {
  const offset = offsets.get(key(topic, partition));
  if (offset === undefined) throw new Error(`ListOffsets gave no offset for ${topic}:${partition}`);
  return offset;
}
