import type { KafkaMessage } from 'kafkajs';
import type { PartitionWatermarks, ReadRequest } from '../reader.js';
import { KafkajsReaderBase, type ReadState } from './base-reader.js';
import { createBareCluster } from './isolation.js';
import { LazyConnection } from './lazy-connection.js';
import { rawRecord } from './raw-record.js';

// kafkajs' protocol constants (src/protocol/isolationLevel.js).
const READ_UNCOMMITTED = 0;
const READ_COMMITTED = 1;
// A range never waits at the log end (until <= the planned high watermark or last stable offset);
// this only bounds a fetch that finds nothing new, which the loop then asks again.
const MAX_WAIT_MS = 100;

/** Errors after which the partition's leader is looked up again (kafkajs' consumer refreshes on the same). */
const STALE_METADATA = new Set(['LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH', 'UNKNOWN_TOPIC_OR_PARTITION']);

/** A fetched record as kafkajs decodes it, with its record batch's header (protocol/recordBatch/v0/decoder.js). */
type FetchedMessage = KafkaMessage & { isControlRecord?: boolean; batchContext: { firstOffset: string; lastOffsetDelta: number } };

interface PartitionResponse {
  messages: FetchedMessage[];
}

/** The part of kafkajs' (untyped, internal) Cluster and Broker that fetching uses. */
interface Broker {
  /** kafkajs 2.2.4 sends Fetch on a connection of its own: the pool's second. */
  readonly connectionPool?: { readonly pool?: readonly { isConnected(): boolean }[]; getConnection(index: number): Promise<unknown> };
  fetch(request: {
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: PartitionResponse[] }[] }>;
}

interface Cluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addMultipleTargetTopics(topics: string[]): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(options: { nodeId: string }): Promise<Broker>;
}

/**
 * The default reader (`reader: 'fetch'`): ranges are read with Fetch requests sent straight to
 * each partition's leader, through a bare kafkajs cluster, as Kafka's Java consumer does with
 * assign(). No consumer group, so no join (nor the broker's group.initial.rebalance.delay.ms,
 * 3 s by default, before a new group's first fetch), no pause, resume or seek: a range is fetched
 * from its start until the position reaches `until`.
 *
 * Completion is by position: every record batch a fetch returns moves the position past its last
 * offset, whether its records are handed over, left out (transaction markers, records of aborted
 * transactions under read_committed, see aborted-filter.ts) or were compacted away; a record at or
 * beyond `until` completes the range (a compaction gap up to it). A range whose start is no longer
 * in the log gets OFFSET_OUT_OF_RANGE from the broker itself, confirmed against the log start
 * (OffsetOutOfRangeError): nothing is ever reset silently.
 */
export class KafkajsFetchReader extends KafkajsReaderBase {
  private readonly clusters = new LazyConnection(() => createBareCluster(this.kafka) as Cluster);
  /** Each leader's broker, looked up (and connected by kafkajs) once, until an error drops it. */
  private readonly brokers = new Map<string, Promise<Broker>>();
  /**
   * A broker's Fetch connection being opened. kafkajs opens it on the first Fetch, and concurrent
   * first Fetches (a batch reads its partitions at once) each open a socket on the same
   * connection object, leaking all but the last: the sockets kept the process alive after close().
   */
  private readonly connectingFetch = new WeakMap<Broker, Promise<unknown>>();

  private cluster(): Promise<Cluster> {
    return this.clusters.get();
  }

  /** The first plan's listing also connects the fetch cluster, so the first reads find it connected. */
  override async watermarks(topics: readonly string[]): Promise<PartitionWatermarks[]> {
    const marks = await super.watermarks(topics);
    if (!this.clusters.started && marks.some((m) => m.high > m.low)) {
      this.cluster().catch((error: unknown) => this.logger.debug({ err: error }, 'connecting to Kafka ahead of the first read failed; the first read connects again'));
    }
    return marks;
  }

  protected async readFrom(request: ReadRequest, state: ReadState): Promise<void> {
    const { topic, partition, until } = request;
    while (state.position < until) {
      this.checkOpen();
      if (request.signal?.aborted) throw this.failure('the read was aborted', request, state.position, request.signal.reason);
      // Fetches that bring nothing (the log no longer reaches `until`: a leader that lost its tail)
      // would otherwise be asked again for ever; a range is failed, never cut short.
      if (Date.now() >= request.deadline) {
        throw this.failure(`could not read the range within readTimeoutMs=${this.options.readTimeoutMs}`, request, state.position, undefined);
      }
      const messages = await this.fetch(topic, partition, state.position);
      state.position = take(messages, topic, partition, state.position, until, state.records);
    }
  }

  /** One Fetch of one partition from `offset`, from its leader; the records kafkajs decoded. */
  private async fetch(topic: string, partition: number, offset: number): Promise<FetchedMessage[]> {
    const cluster = await this.cluster();
    await cluster.addMultipleTargetTopics([topic]);
    let leaders = cluster.findLeaderForPartitions(topic, [partition]);
    if (Object.keys(leaders).length === 0) {
      // A partition added since the metadata was read.
      await cluster.refreshMetadata();
      leaders = cluster.findLeaderForPartitions(topic, [partition]);
    }
    const nodeId = Object.keys(leaders)[0];
    if (nodeId === undefined) throw new Error(`partition ${topic}:${partition} is not in the cluster's metadata`);
    try {
      let broker = this.brokers.get(nodeId);
      if (!broker) {
        broker = cluster.findBroker({ nodeId });
        this.brokers.set(nodeId, broker);
        broker.catch(() => this.brokers.delete(nodeId));
      }
      const leader = await broker;
      await this.fetchConnection(leader);
      const { responses } = await leader.fetch({
        isolationLevel: this.options.readUncommitted ? READ_UNCOMMITTED : READ_COMMITTED,
        maxWaitTime: MAX_WAIT_MS,
        minBytes: 1,
        maxBytes: this.options.maxBytesPerPartition,
        topics: [{ topic, partitions: [{ partition, fetchOffset: String(offset), maxBytes: this.options.maxBytesPerPartition }] }],
      });
      return responses[0]?.partitions[0]?.messages ?? [];
    } catch (error) {
      const type = (error as { type?: string }).type;
      // Below the log start (retention, deleteRecords), `verify` throws: the range is gone.
      // Otherwise (a leader change that lost the tail, say) the retry loop asks again.
      if (type === 'OFFSET_OUT_OF_RANGE') await this.verify(topic, partition, offset);
      if (type !== undefined && STALE_METADATA.has(type)) {
        this.brokers.clear();
        await cluster.refreshMetadata().catch(() => {});
      }
      // A connection error: the next attempt looks the broker up (and connects it) again.
      if ((error as { name?: string }).name === 'KafkaJSConnectionError' || (error as { name?: string }).name === 'KafkaJSConnectionClosedError') this.brokers.delete(nodeId);
      throw error;
    }
  }

  /** Opens the broker's Fetch connection once when it is not open, however many reads ask at once. */
  private async fetchConnection(broker: Broker): Promise<void> {
    const pool = broker.connectionPool;
    if (!pool || pool.pool?.[1]?.isConnected() !== false) return;
    let connecting = this.connectingFetch.get(broker);
    if (!connecting) {
      connecting = pool.getConnection(1).finally(() => this.connectingFetch.delete(broker));
      this.connectingFetch.set(broker, connecting);
    }
    await connecting;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.brokers.clear();
    await Promise.all([this.clusters.close(), this.closeShared()]);
  }
}

/**
 * Appends the records of [position, until) among `messages` to `records`; returns the new
 * position: past the last record batch seen, or `until` once a record at or beyond it shows the
 * range is complete.
 */
export function take(messages: readonly FetchedMessage[], topic: string, partition: number, position: number, until: number, records: ReturnType<typeof rawRecord>[]): number {
  let next = position;
  for (const message of messages) {
    const offset = Number(message.offset);
    if (offset >= until) return until;
    // The whole record batch is behind us once one of its records is: its compacted records too.
    const batchEnd = Number(message.batchContext.firstOffset) + message.batchContext.lastOffsetDelta + 1;
    if (batchEnd > next) next = Math.min(batchEnd, until);
    // Earlier records of a compressed batch that starts before the fetch offset.
    if (offset < position) continue;
    if (message.isControlRecord) continue; // markers, and records of aborted transactions
    records.push(rawRecord(topic, partition, offset, message));
  }
  return next;
}
