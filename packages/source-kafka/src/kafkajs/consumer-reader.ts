import { randomUUID } from 'node:crypto';
import type { PartitionWatermarks, ReadRequest } from '../reader.js';
import { KafkajsReaderBase, type ReadState } from './base-reader.js';
import { ConsumerSession, type ActiveRead } from './session.js';

/**
 * The kafkajs reader that reads through a kafkajs consumer (`reader: 'consumer'`). kafkajs has no
 * manual assign(): ranges are read with a consumer in a private group of one member (see
 * ConsumerSession), which joins its group first (and waits out the broker's
 * group.initial.rebalance.delay.ms) and is paused, seeked and resumed per range.
 */
export class KafkajsReader extends KafkajsReaderBase {
  private session: ConsumerSession | undefined;
  private building: Promise<ConsumerSession> | undefined;
  private readonly knownTopics = new Set<string>();
  /** Reads that continued where the consumer already was: no seek, no log start check. */
  continuedReads = 0;

  override async watermarks(topics: readonly string[]): Promise<PartitionWatermarks[]> {
    const marks = await super.watermarks(topics);
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

  protected async readFrom(request: ReadRequest, state: ReadState): Promise<void> {
    const { topic, partition, deadline } = request;
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
  }

  private async readOnce(session: ConsumerSession, request: ReadRequest, state: ReadState): Promise<void> {
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.building?.catch(() => {});
    await Promise.all([this.session?.close(), this.closeShared()]);
  }
}
