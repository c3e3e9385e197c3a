import type { Batch, Consumer, ConsumerCrashEvent, ConsumerEndBatchProcessEvent, ConsumerGroupJoinEvent, Kafka } from 'kafkajs';
import type { RawKafkaRecord } from '../reader.js';
import { rawRecord } from './raw-record.js';
import { ownedPartitionsAssigner, type OwnsPartition } from './owned-assigner.js';

/** One range being read: records collect until the position reaches `until`. */
export interface ActiveRead {
  readonly topic: string;
  readonly partition: number;
  readonly until: number;
  /** Next offset expected; starts at `from`, may already have advanced in an earlier attempt. */
  position: number;
  readonly records: RawKafkaRecord[];
  readonly settle: (error?: unknown) => void;
}

export interface SessionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** The partitions the reader reads (its task's); undefined: every partition of the topics. */
  readonly owns?: OwnsPartition | undefined;
  readonly readUncommitted: boolean;
  readonly maxBytesPerPartition: number;
  /** Bytes of keys and values past its last range at which a partition with no read pauses. */
  readonly prefetchBytesPerPartition: number;
  /** Fails the read when `offset` of the partition is no longer in the log. */
  readonly verify: (topic: string, partition: number, offset: number) => Promise<void>;
  readonly onError: (message: string, error: unknown) => void;
}

/**
 * Where the consumer is on one partition, and what it fetched that no read took yet: records of
 * [start, position). A range that starts at `start` continues from here, with no seek, no log
 * start check and, while the partition is still resumed, no wait for a fetch.
 */
interface Feed {
  readonly topic: string;
  readonly partition: number;
  /** Where the next read must start to use this feed: where the last one ended (or the seek). */
  start: number;
  /** The consumer's position: the offset after the last batch it handed over. */
  position: number;
  /** Fetched records of [start, position) waiting for the next read. */
  records: RawKafkaRecord[];
  bytes: number;
  /** Checks of offsets the consumer passed over (see `skipped`), by the offset checked. */
  checks: { offset: number; done: Promise<void> }[];
  read: ActiveRead | undefined;
  paused: boolean;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Thrown to reads in flight when their session ends; the reader retries them on a new one. */
export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError';
}

/**
 * One kafkajs consumer in a private group (this instance is its only member, so its assignor gives
 * it every partition of the subscribed topics that the reader reads: all of them, or its task's
 * when the context runs one task of a group). A partition is paused until a range of it is read;
 * the read seeks it to the range's start and resumes it. When the range is complete the partition
 * keeps its position, and what was fetched past the range is kept for the next range, which
 * usually starts where this one ended; it stays resumed until it holds `prefetchBytesPerPartition`
 * past the range (default 0: it pauses at once). Consecutive ranges then cost no seek, no lost
 * fetch and no log start check.
 */
export class ConsumerSession {
  readonly topics: ReadonlySet<string>;
  private readonly consumer: Consumer;
  private readonly feeds = new Map<string, Feed>();
  private assignment: Map<string, Set<number>> | undefined;
  private joinWaiters: (() => void)[] = [];
  private closedError: Error | undefined;

  constructor(
    kafka: Kafka,
    private readonly options: SessionOptions,
  ) {
    this.topics = new Set(options.topics);
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      partitionAssigners: [ownedPartitionsAssigner(options.owns)],
      readUncommitted: options.readUncommitted,
      allowAutoTopicCreation: false,
      maxBytesPerPartition: options.maxBytesPerPartition,
      // With every partition paused kafkajs sleeps maxWaitTime between polls: keep it short so a
      // read starts promptly. Reads never wait at the log end (until <= last stable offset).
      maxWaitTimeInMs: 50,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      // No in-place restart after a crash: a restarted member rejoins the same group, where the
      // coordinator (after a broker restart) may still wait a full session timeout for the old
      // member. The reader builds a new session in a fresh group instead.
      retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000, restartOnFailure: async () => false },
    });
    const { GROUP_JOIN, CRASH, END_BATCH_PROCESS } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (event) => this.onJoin(event));
    this.consumer.on(END_BATCH_PROCESS, (event) => this.onBatchProcessed(event));
    this.consumer.on(CRASH, (event) => this.onCrash(event));
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      eachBatch: async ({ batch }) => this.onBatch(batch),
    });
  }

  /** Waits until the group assigned partitions, then tells whether this one is among them. */
  async isAssigned(topic: string, partition: number, deadline: number): Promise<boolean> {
    while (!this.assignment) {
      if (this.closedError) throw this.closedError;
      if (Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, Math.min(deadline - Date.now(), 1000)));
        this.joinWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.assignment.get(topic)?.has(partition) ?? false;
  }

  /**
   * True when a read from `offset` continues where the consumer already is (the previous range of
   * the partition ended there): every offset before it was fetched, so it is still in the log or
   * the consumer's jump past it is being checked.
   */
  positionedAt(topic: string, partition: number, offset: number): boolean {
    const feed = this.feeds.get(key(topic, partition));
    return feed !== undefined && feed.read === undefined && feed.start === offset;
  }

  /** Starts reading `read` from its position; `read.settle` is called when done or failed. */
  begin(read: ActiveRead): void {
    if (this.closedError) return read.settle(this.closedError);
    const k = key(read.topic, read.partition);
    let feed = this.feeds.get(k);
    if (feed?.read) return read.settle(new Error(`${read.topic}:${read.partition} is already being read`));
    if (!feed || feed.start !== read.position) {
      feed = { topic: read.topic, partition: read.partition, start: read.position, position: read.position, records: [], bytes: 0, checks: [], read: undefined, paused: true };
      this.feeds.set(k, feed);
      this.seek(feed);
    }
    feed.read = read;
    this.handOver(feed);
    if (feed.read) this.resume(feed);
  }

  /** Stops reading a range (timeout, abort); its partition is paused and forgets what it fetched. */
  abandon(read: ActiveRead): void {
    const k = key(read.topic, read.partition);
    const feed = this.feeds.get(k);
    if (feed?.read !== read) return;
    this.feeds.delete(k);
    this.pause(feed);
  }

  async close(): Promise<void> {
    if (!this.closedError) this.closedError = new SessionClosedError('the Kafka consumer session was closed');
    this.failAll(this.closedError);
    for (const wake of this.joinWaiters.splice(0)) wake();
    await this.consumer.disconnect();
  }

  private seek(feed: Feed): void {
    try {
      this.consumer.seek({ topic: feed.topic, partition: feed.partition, offset: String(feed.position) });
    } catch {
      // kafkajs is restarting after a crash: the next group join seeks this feed.
    }
  }

  private resume(feed: Feed): void {
    if (!feed.paused) return;
    try {
      this.consumer.resume([{ topic: feed.topic, partitions: [feed.partition] }]);
      feed.paused = false;
    } catch {
      // kafkajs is restarting after a crash: the next group join resumes this read.
    }
  }

  private pause(feed: Pick<Feed, 'topic' | 'partition' | 'paused'>): void {
    try {
      this.consumer.pause([{ topic: feed.topic, partitions: [feed.partition] }]);
      feed.paused = true;
    } catch {
      // The consumer is not running (crashed or stopping): nothing is fetched anyway.
    }
  }

  private onJoin(event: ConsumerGroupJoinEvent): void {
    // kafkajs forgets pauses and seeks when it (re)joins or restarts after a crash: pause every
    // topic, then put each read in flight back at its own position. What was fetched for later
    // ranges is dropped: the consumer's position is gone, and the next range seeks anyway.
    const assignment = new Map<string, Set<number>>();
    for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
      assignment.set(topic, new Set(partitions));
    }
    this.assignment = assignment;
    this.consumer.pause([...assignment.keys()].map((topic) => ({ topic })));
    for (const [k, feed] of this.feeds) {
      feed.paused = true;
      const read = feed.read;
      if (!read || !assignment.get(feed.topic)?.has(feed.partition)) {
        this.feeds.delete(k);
        read?.settle(new SessionClosedError(`${feed.topic}:${feed.partition} is no longer assigned to the reader`));
        continue;
      }
      this.seek(feed);
      this.resume(feed);
    }
    for (const wake of this.joinWaiters.splice(0)) wake();
  }

  private onCrash(event: ConsumerCrashEvent): void {
    if (event.payload.restart) {
      this.options.onError('the kafkajs consumer crashed and restarts', event.payload.error);
      return;
    }
    this.closedError = new SessionClosedError(`the kafkajs consumer stopped: ${event.payload.error.message}`, {
      cause: event.payload.error,
    });
    this.failAll(this.closedError);
  }

  private failAll(error: Error): void {
    for (const feed of this.feeds.values()) feed.read?.settle(error);
    this.feeds.clear();
  }

  private onBatch(batch: Batch): void {
    const feed = this.feeds.get(key(batch.topic, batch.partition));
    if (!feed) {
      this.pause({ topic: batch.topic, partition: batch.partition, paused: false });
      return;
    }
    // kafkajs 2.x keeps the offset it fetched from on the batch (not in its typings).
    const fetchedOffset = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
    const fetched = fetchedOffset === undefined ? feed.position : Number(fetchedOffset);
    if (fetched < feed.position) {
      // Fetched before our seek, or after kafkajs reset the partition: go back to our position.
      this.seek(feed);
      return;
    }
    if (fetched > feed.position) this.skipped(feed, feed.position);
    const read = feed.read;
    const position = feed.position;
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < position) continue;
      const record = rawRecord(batch.topic, batch.partition, offset, message);
      if (read !== undefined && offset < read.until) {
        read.records.push(record);
      } else {
        feed.records.push(record);
        feed.bytes += (message.value?.length ?? 0) + (message.key?.length ?? 0);
      }
    }
    // lastOffset() counts transaction markers and aborted records too: it is the position.
    this.advance(feed, Number(batch.lastOffset()) + 1);
  }

  /** Batches kafkajs filtered to nothing (only aborted records or markers) never reach eachBatch. */
  private onBatchProcessed(event: ConsumerEndBatchProcessEvent): void {
    const { topic, partition, batchSize, firstOffset, lastOffset } = event.payload;
    if (batchSize !== 0) return;
    const feed = this.feeds.get(key(topic, partition));
    if (!feed) return;
    const last = Number(lastOffset);
    if (last + 1 <= feed.position) return;
    if (firstOffset === null || Number(firstOffset) > feed.position) this.skipped(feed, feed.position);
    this.advance(feed, last + 1);
  }

  /**
   * The consumer moved past offsets without handing us their records (a batch of only aborted
   * records or markers, a compacted gap, or a reset after offset-out-of-range): the read that
   * covers `offset` completes only once `verify` confirmed it was not deleted.
   */
  private skipped(feed: Feed, offset: number): void {
    const done = this.options.verify(feed.topic, feed.partition, offset);
    done.catch(() => {}); // awaited by the read that covers it; not every feed gets one
    feed.checks.push({ offset, done });
  }

  private advance(feed: Feed, position: number): void {
    feed.position = Math.max(feed.position, position);
    const read = feed.read;
    if (read) {
      read.position = Math.min(feed.position, read.until);
      if (feed.position >= read.until) this.complete(feed, read);
    }
    // With the default 0 the partition pauses as its range completes: fetching ahead pins fetch
    // responses and their records past a batch's end (60-100 MB of the sample pipeline's peak).
    if (!feed.read && !feed.paused && feed.bytes >= this.options.prefetchBytesPerPartition) this.pause(feed);
  }

  /** Gives the read what the feed holds for it; completes it when the feed reached its end. */
  private handOver(feed: Feed): void {
    const read = feed.read!;
    let taken = 0;
    while (taken < feed.records.length && feed.records[taken]!.offset < read.until) taken++;
    if (taken > 0) {
      const records = feed.records;
      for (let i = 0; i < taken; i++) read.records.push(records[i]!);
      feed.records = taken === records.length ? [] : records.slice(taken);
      feed.bytes = feed.records.reduce((sum, r) => sum + (r.value?.length ?? 0) + (r.key?.length ?? 0), 0);
    }
    read.position = Math.min(feed.position, read.until);
    if (feed.position >= read.until) this.complete(feed, read);
  }

  private complete(feed: Feed, read: ActiveRead): void {
    feed.read = undefined;
    feed.start = read.until;
    const checks = feed.checks.filter((c) => c.offset < read.until).map((c) => c.done);
    feed.checks = feed.checks.filter((c) => c.offset >= read.until);
    if (checks.length === 0) return read.settle();
    Promise.all(checks).then(
      () => read.settle(),
      (error: unknown) => {
        // Offsets of the range were deleted: the next read seeks and checks afresh.
        const k = key(feed.topic, feed.partition);
        if (this.feeds.get(k) === feed && !feed.read) {
          this.feeds.delete(k);
          this.pause(feed);
        }
        read.settle(error);
      },
    );
  }
}
