import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, type Logger } from '@microbatch/core';
import type { Admin, Kafka } from 'kafkajs';
import type { ResolvedOptions } from '../options.js';
import type { TopicPartition } from '../partition-id.js';
import { OffsetOutOfRangeError, type KafkaReader, type PartitionWatermarks, type RawKafkaRecord, type ReadRequest } from '../reader.js';
import { createKafkaClient } from './client.js';
import type { OwnsPartition } from './owned-assigner.js';
import { ConsumerSession, type ActiveRead } from './session.js';
import { listOffsetsUncommitted } from './isolation.js';
import { OffsetLister } from './offsets.js';

/**
 * The kafkajs implementation of the reader. kafkajs has no manual assign(): ranges are read with a
 * consumer in a private group of one member (see ConsumerSession), topics and offsets go through
 * a bare kafkajs cluster (see OffsetLister), monitoring commits through the admin client.
 */
export class KafkajsReader implements KafkaReader {
  private readonly kafka: Kafka;
  private adminClient: Promise<Admin> | undefined;
  private readonly offsets: OffsetLister;
  private session: ConsumerSession | undefined;
  private building: Promise<ConsumerSession> | undefined;
  private readonly knownTopics = new Set<string>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private closed = false;
  /** Reads that continued where the consumer already was: no seek, no log start check. */
  continuedReads = 0;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly logger: Logger,
    /** The partitions this reader reads (its task's); undefined: all of its topics'. */
    private readonly owns?: OwnsPartition,
  ) {
    this.kafka = createKafkaClient(options, logger);
    // Ranges are planned with the admin client's ListOffsets: it must see what the reads will see.
    if (options.readUncommitted) listOffsetsUncommitted(this.kafka);
    this.offsets = new OffsetLister(this.kafka, logger, options, owns);
  }

  private admin(): Promise<Admin> {
    if (!this.adminClient) {
      const admin = this.kafka.admin();
      this.adminClient = admin.connect().then(
        () => admin,
        (error: unknown) => {
          this.adminClient = undefined;
          throw error;
        },
      );
    }
    return this.adminClient;
  }

  listTopics(): Promise<string[]> {
    return this.offsets.listTopics();
  }

  /** Watermarks of the partitions of `topics` that this reader reads (its task's, in a group). */
  async watermarks(topics: readonly string[]): Promise<PartitionWatermarks[]> {
    const marks = await this.offsets.watermarks(topics);
    for (const m of marks) this.knownTopics.add(m.topic);
    const withRecords = marks.find((m) => m.high > m.low);
    if (withRecords && !this.session && !this.building) this.warmUp(withRecords.topic);
    return marks;
  }

  /**
   * Builds the consumer session (connect, join its private group) as soon as a plan lists
   * partitions that hold records, without delaying that plan: the first batch's reads then find
   * it joined, as later batches do. Topics with nothing in them (an idle task of a group) get no
   * consumer until a range is read. A failure is left to the first read, which retries and
   * reports it.
   */
  private warmUp(topic: string): void {
    this.rebuild(undefined, topic).catch((error: unknown) => {
      this.logger.debug({ err: error }, 'building the Kafka consumer ahead of the first read failed; the first read builds it again');
    });
  }

  async commitGroupOffsets(groupId: string, offsets: readonly (TopicPartition & { offset: number })[]): Promise<void> {
    const admin = await this.admin();
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const { topic, partition, offset } of offsets) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), { partition, offset: String(offset) }]);
    }
    for (const [topic, partitions] of byTopic) await admin.setOffsets({ groupId, topic, partitions });
  }

  /** Reads of one partition run one at a time: the consumer has a single position per partition. */
  read(request: ReadRequest): Promise<RawKafkaRecord[]> {
    const lock = `${request.topic}:${request.partition}`;
    const previous = this.locks.get(lock) ?? Promise.resolve();
    const result = previous.catch(() => {}).then(() => this.readExclusive(request));
    const tail = result.catch(() => {});
    this.locks.set(lock, tail);
    void tail.then(() => {
      if (this.locks.get(lock) === tail) this.locks.delete(lock);
    });
    return result;
  }

  private async readExclusive(request: ReadRequest): Promise<RawKafkaRecord[]> {
    const { topic, partition, from, until, deadline, signal } = request;
    const state = { position: from, records: [] as RawKafkaRecord[] };
    let lastError: unknown;
    for (let attempt = 1; ; attempt++) {
      this.checkOpen();
      if (signal?.aborted) throw this.failure('the read was aborted', request, state.position, signal.reason);
      if (Date.now() >= deadline) {
        throw this.failure(`could not read the range within readTimeoutMs=${this.options.readTimeoutMs}`, request, state.position, lastError);
      }
      try {
        // A range that continues where the consumer is needs no check: the offsets before it
        // were just fetched (see ConsumerSession.positionedAt). Otherwise the check runs while
        // the session is found or built.
        const current = this.session?.closed === false ? this.session : undefined;
        let check = current?.positionedAt(topic, partition, state.position) ? undefined : this.verify(topic, partition, state.position);
        check?.catch(() => {}); // awaited below; kept from being unhandled while the session builds
        const session = await this.sessionFor(topic, partition, deadline);
        // Replaced meanwhile (a topic or partition was added): the new consumer is not positioned.
        if (!check && (session !== current || !session.positionedAt(topic, partition, state.position))) check = this.verify(topic, partition, state.position);
        if (check) await check;
        else this.continuedReads++;
        await this.readOnce(session, request, state);
        return state.records;
      } catch (error) {
        if (error instanceof OffsetOutOfRangeError || error instanceof MicrobatchError) throw error;
        lastError = error;
        this.logger.warn(
          { topic, partition, from, until, position: state.position, attempt, err: error },
          'Kafka read failed; retrying with backoff',
        );
        const delay = Math.min(this.options.retryInitialMs * 2 ** (attempt - 1), this.options.retryMaxMs);
        await sleep(Math.max(0, Math.min(delay, deadline - Date.now())), undefined, { signal }).catch(() => {});
      }
    }
  }

  private async readOnce(session: ConsumerSession, request: ReadRequest, state: { position: number; records: RawKafkaRecord[] }): Promise<void> {
    let settle!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    const read: ActiveRead = {
      topic: request.topic,
      partition: request.partition,
      until: request.until,
      position: state.position,
      records: state.records,
      settle,
    };
    let timer: NodeJS.Timeout | undefined;
    const onAbort = () => settle(request.signal?.reason ?? new Error('aborted'));
    try {
      timer = setTimeout(() => settle(new Error('read timeout')), Math.max(0, request.deadline - Date.now()));
      request.signal?.addEventListener('abort', onAbort, { once: true });
      session.begin(read);
      await done;
    } catch (error) {
      session.abandon(read);
      if (request.signal?.aborted) throw this.failure('the read was aborted', request, read.position, error);
      if (Date.now() >= request.deadline) {
        throw this.failure(`could not read the range within readTimeoutMs=${this.options.readTimeoutMs}`, request, read.position, error);
      }
      throw error;
    } finally {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      state.position = read.position;
    }
  }

  /** Throws OffsetOutOfRangeError when `offset` is below the partition's log start. */
  private async verify(topic: string, partition: number, offset: number): Promise<void> {
    // One ListOffsets of this partition where the consumer is not positioned already: it catches a
    // deleted start before kafkajs would silently reset the position to the log start.
    const low = await this.offsets.logStart(topic, partition);
    if (offset < low) throw new OffsetOutOfRangeError(topic, partition, offset, low);
  }

  /** The running session, rebuilt when it died or lacks the topic or partition (added later). */
  private async sessionFor(topic: string, partition: number, deadline: number): Promise<ConsumerSession> {
    let session = this.session;
    if (!session || session.closed || !session.topics.has(topic)) session = await this.rebuild(session, topic);
    if (await session.isAssigned(topic, partition, deadline)) return session;
    // A partition added since the consumer joined: a fresh consumer sees it in its metadata.
    session = await this.rebuild(session, topic);
    if (await session.isAssigned(topic, partition, deadline)) return session;
    throw new Error(`partition ${topic}:${partition} was not assigned to the reader's consumer`);
  }

  private async rebuild(stale: ConsumerSession | undefined, topic: string): Promise<ConsumerSession> {
    while (this.building) await this.building.catch(() => {});
    if (this.session && this.session !== stale && !this.session.closed && this.session.topics.has(topic)) return this.session;
    this.checkOpen();
    const previous = this.session;
    this.building = (async () => {
      const topics = new Set([...this.knownTopics, ...(previous?.topics ?? []), topic]);
      if (previous) await previous.close().catch((error: unknown) => this.logger.warn({ err: error }, 'closing the old Kafka consumer failed'));
      const session = new ConsumerSession(this.kafka, {
        groupId: `${this.options.readerGroupPrefix}-${randomUUID()}`,
        topics: [...topics],
        owns: this.owns,
        readUncommitted: this.options.readUncommitted,
        maxBytesPerPartition: this.options.maxBytesPerPartition,
        prefetchBytesPerPartition: this.options.prefetchBytesPerPartition,
        verify: (t, p, offset) => this.verify(t, p, offset),
        onError: (message, error) => this.logger.warn({ err: error }, message),
      });
      this.session = session;
      try {
        await session.start();
      } catch (error) {
        await session.close().catch(() => {});
        throw error;
      }
      return session;
    })();
    try {
      return await this.building;
    } finally {
      this.building = undefined;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new MicrobatchError('STOPPED', 'the Kafka source is closed');
  }

  private failure(message: string, request: ReadRequest, position: number, cause: unknown): MicrobatchError {
    const { topic, partition, from, until } = request;
    return new MicrobatchError('SOURCE_FAILED', `Kafka ${topic}:${partition} [${from}, ${until}): ${message} (reached ${position})`, {
      cause,
      details: { topic, partition, from, until, position },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.building?.catch(() => {});
    const admin = this.adminClient;
    this.adminClient = undefined;
    await Promise.all([this.session?.close(), this.offsets.close(), admin?.then((a) => a.disconnect(), () => {})]);
  }
}
