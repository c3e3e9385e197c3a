/**
 * The small surface the source needs from a Kafka client. The kafkajs implementation lives in
 * ./kafkajs; another client (e.g. one with a manual-assignment API) can implement this without
 * touching the source or the engine.
 */
import type { TopicPartition } from './partition-id.js';

export type KafkaHeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** One committed record as read from the log, before deserialization. */
export interface RawKafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, KafkaHeaderValue>>;
}

export interface PartitionWatermarks extends TopicPartition {
  /** First offset still in the log (log start offset). */
  readonly low: number;
  /** Offset after the newest readable record: the last stable offset under read_committed, the high watermark under read_uncommitted. */
  readonly high: number;
}

export interface ReadRequest extends TopicPartition {
  readonly from: number;
  readonly until: number;
  /** Absolute time (ms since epoch) after which the read gives up with a SOURCE_FAILED error. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

export interface KafkaReader {
  /** Every non-internal topic of the cluster. */
  listTopics(): Promise<string[]>;
  /**
   * Watermarks of every partition of the given topics; topics that do not exist are left out. A
   * reader given `ownsPartition` (see ReaderScope) may list only the partitions it owns.
   */
  watermarks(topics: readonly string[]): Promise<PartitionWatermarks[]>;
  /**
   * Every committed record with an offset in [from, until); complete once the reader's position
   * reached `until` (transaction markers, aborted and compacted records leave gaps). Throws
   * OffsetOutOfRangeError when `from` is no longer in the log.
   */
  read(request: ReadRequest): Promise<RawKafkaRecord[]>;
  /** Commits offsets to a consumer group, for lag monitoring only. */
  commitGroupOffsets(groupId: string, offsets: readonly (TopicPartition & { offset: number })[]): Promise<void>;
  close(): Promise<void>;
  /** Optional: reads that continued where the client already was positioned (a metric). */
  readonly continuedReads?: number;
}

/** The log no longer holds the start of a requested range (retention, deleteRecords). */
export class OffsetOutOfRangeError extends Error {
  override readonly name = 'OffsetOutOfRangeError';
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    /** The partition's log start offset when the problem was seen. */
    readonly low: number,
  ) {
    super(`offset ${offset} of ${topic}:${partition} is out of range: the log starts at ${low}`);
  }
}
