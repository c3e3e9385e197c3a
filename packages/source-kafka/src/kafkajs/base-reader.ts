import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, type Logger } from '@microbatch/core';
import type { Admin, Kafka } from 'kafkajs';
import type { ResolvedOptions } from '../options.js';
import type { TopicPartition } from '../partition-id.js';
import { OffsetOutOfRangeError, type KafkaReader, type PartitionWatermarks, type RawKafkaRecord, type ReadRequest } from '../reader.js';
import { createKafkaClient } from './client.js';
import { listOffsetsUncommitted } from './isolation.js';
import { LazyConnection } from './lazy-connection.js';
import { OffsetLister } from './offsets.js';
import type { OwnsPartition } from './owned-assigner.js';

/** Where a read of a range got to: the next offset expected, and the records so far. */
export interface ReadState {
  position: number;
  readonly records: RawKafkaRecord[];
}

/**
 * What both kafkajs readers share: topics and offsets through a bare kafkajs cluster (see
 * OffsetLister), monitoring commits through the admin client, reads of one partition one at a
 * time, and the retry loop of a read (backoff until the read's deadline, abort, typed failures).
 * A subclass fetches: `readFrom` continues a range from `state.position`.
 */
export abstract class KafkajsReaderBase implements KafkaReader {
  protected readonly kafka: Kafka;
  protected readonly offsets: OffsetLister;
  private readonly adminClient = new LazyConnection<Admin>(() => this.kafka.admin());
  private readonly locks = new Map<string, Promise<unknown>>();
  protected closed = false;

  constructor(
    protected readonly options: ResolvedOptions,
    protected readonly logger: Logger,
    /** The partitions this reader reads (its task's); undefined: all of its topics'. */
    protected readonly owns?: OwnsPartition,
  ) {
    this.kafka = createKafkaClient(options, logger);
    // Ranges are planned with the admin client's ListOffsets: it must see what the reads will see.
    if (options.readUncommitted) listOffsetsUncommitted(this.kafka);
    this.offsets = new OffsetLister(this.kafka, logger, options, owns);
  }

  /** Continues reading `request` from `state.position` until it reaches `until`; throws to be retried. */
  protected abstract readFrom(request: ReadRequest, state: ReadState): Promise<void>;

  listTopics(): Promise<string[]> {
    return this.offsets.listTopics();
  }

  /** Watermarks of the partitions of `topics` that this reader reads (its task's, in a group). */
  watermarks(topics: readonly string[]): Promise<PartitionWatermarks[]> {
    return this.offsets.watermarks(topics);
  }

  async commitGroupOffsets(groupId: string, offsets: readonly (TopicPartition & { offset: number })[]): Promise<void> {
    const admin = await this.adminClient.get();
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, offset } of offsets) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partition, offset: String(offset) }]);
    }
    for (const [topic, partitions] of byTopic) await admin.setOffsets({ groupId, topic, partitions });
  }

  /** Reads of one partition run one at a time: a reader has a single position per partition. */
  read(request: ReadRequest): Promise<RawKafkaRecord[]> {
    const lock = `${request.topic}:${request.partition}`;
    const previous = this.locks.get(lock) ?? Promise.resolve();
    const result = previous.catch(() => {}).then(() => this.readRetrying(request));
    const tail = result.catch(() => {});
    this.locks.set(lock, tail);
    void tail.then(() => {
      if (this.locks.get(lock) === tail) this.locks.delete(lock);
    });
    return result;
  }

  private async readRetrying(request: ReadRequest): Promise<RawKafkaRecord[]> {
    const { topic, partition, from, until, deadline, signal } = request;
    const state: ReadState = { position: from, records: [] };
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      this.checkOpen();
      if (signal?.aborted) throw this.failure('the read was aborted', request, state.position, signal.reason);
      if (Date.now() >= deadline) {
        throw this.failure(`could not read the range within readTimeoutMs=${this.options.readTimeoutMs}`, request, state.position, lastError);
      }
      try {
        await this.readFrom(request, state);
        return state.records;
      } catch (error) {
        if (error instanceof OffsetOutOfRangeError || error instanceof MicrobatchError) throw error;
        lastError = error;
        this.logger.warn({ topic, partition, from, until, position: state.position, attempt, err: error }, 'Kafka read failed; retrying with backoff');
        const delay = Math.min(this.options.retryInitialMs * 2 ** (attempt - 1), this.options.retryMaxMs);
        await sleep(Math.max(0, Math.min(delay, deadline - Date.now())), undefined, { signal }).catch(() => {});
      }
    }
  }

  /** Throws OffsetOutOfRangeError when `offset` is below the partition's log start. */
  protected async verify(topic: string, partition: number, offset: number): Promise<void> {
    const low = await this.offsets.logStart(topic, partition);
    if (offset < low) throw new OffsetOutOfRangeError(topic, partition, offset, low);
  }

  protected checkOpen(): void {
    if (this.closed) throw new MicrobatchError('STOPPED', 'the Kafka source is closed');
  }

  protected failure(message: string, request: ReadRequest, position: number, cause: unknown): MicrobatchError {
    const { topic, partition, from, until } = request;
    return new MicrobatchError('SOURCE_FAILED', `Kafka ${topic}:${partition} [${from}, ${until}): ${message} (reached ${position})`, {
      cause,
      details: { topic, partition, from, until, position },
    });
  }

  /** Marks the reader closed and closes what the base owns (offsets cluster, admin client). */
  protected async closeShared(): Promise<void> {
    await Promise.all([this.offsets.close(), this.adminClient.close()]);
  }

  abstract close(): Promise<void>;
}
