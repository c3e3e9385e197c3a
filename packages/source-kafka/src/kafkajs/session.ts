import type { Batch, Consumer, ConsumerCrashEvent, ConsumerEndBatchProcessEvent, ConsumerGroupJoinEvent, Kafka } from 'kafkajs';
import type { RawKafkaRecord } from '../reader.js';
import { ownedPartitionsAssigner, type OwnsPartition } from './owned-assigner.js';

/** One range being read: records collect until the position reaches `until`. */
export interface ActiveRead {
  readonly topic: string;
  readonly partition: number;
  readonly until: number;
  /** Next offset expected; starts at `from`, may already have advanced in an earlier attempt. */
  position: number;
  readonly records: RawKafkaRecord[];
  /**
   * Called when the consumer moved past offsets without handing us their records (a batch of
   * only aborted records or markers, or a reset after offset-out-of-range): the read completes
   * only once `verify` confirmed the skipped offsets were not deleted.
   */
  readonly checks: Promise<void>[];
  readonly settle: (error?: unknown) => void;
}

export interface SessionOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** The partitions the reader reads (its task's); undefined: every partition of the topics. */
  readonly owns?: OwnsPartition | undefined;
  readonly readUncommitted: boolean;
  readonly maxBytesPerPartition: number;
  /** Fails the read when `offset` of the partition is no longer in the log. */
  readonly verify: (topic: string, partition: number, offset: number) => Promise<void>;
  readonly onError: (message: string, error: unknown) => void;
}

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Thrown to reads in flight when their session ends; the reader retries them on a new one. */
export class SessionClosedError extends Error {
  override readonly name = 'SessionClosedError';
}

/**
 * One kafkajs consumer in a private group (this instance is its only member, so its assignor gives
 * it every partition of the subscribed topics that the reader reads: all of them, or its task's
 * when the context runs one task of a group). Every partition stays paused except while a range of
 * it is read: the read seeks to its position, resumes the partition and pauses it again when done.
 */
export class ConsumerSession {
  readonly topics: ReadonlySet<string>;
  private readonly consumer: Consumer;
  private readonly reads = new Map<string, ActiveRead>();
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

  /** Starts reading `read` from its position; `read.settle` is called when done or failed. */
  begin(read: ActiveRead): void {
    if (this.closedError) return read.settle(this.closedError);
    const k = key(read.topic, read.partition);
    if (this.reads.has(k)) return read.settle(new Error(`${read.topic}:${read.partition} is already being read`));
    this.reads.set(k, read);
    try {
      this.consumer.seek({ topic: read.topic, partition: read.partition, offset: String(read.position) });
      this.consumer.resume([{ topic: read.topic, partitions: [read.partition] }]);
    } catch {
      // kafkajs is restarting after a crash: the next group join seeks and resumes this read.
    }
  }

  /** Stops reading a range (timeout, abort); its partition is paused again. */
  abandon(read: ActiveRead): void {
    const k = key(read.topic, read.partition);
    if (this.reads.get(k) !== read) return;
    this.reads.delete(k);
    this.pause(read.topic, read.partition);
  }

  async close(): Promise<void> {
    if (!this.closedError) this.closedError = new SessionClosedError('the Kafka consumer session was closed');
    this.failAll(this.closedError);
    for (const wake of this.joinWaiters.splice(0)) wake();
    await this.consumer.disconnect();
  }

  private pause(topic: string, partition: number): void {
    try {
      this.consumer.pause([{ topic, partitions: [partition] }]);
    } catch {
      // The consumer is not running (crashed or stopping): nothing is fetched anyway.
    }
  }

  private onJoin(event: ConsumerGroupJoinEvent): void {
    // kafkajs forgets pauses and seeks when it (re)joins or restarts after a crash: pause every
    // topic, then put each read in flight back at its own position.
    const assignment = new Map<string, Set<number>>();
    for (const [topic, partitions] of Object.entries(event.payload.memberAssignment)) {
      assignment.set(topic, new Set(partitions));
    }
    this.assignment = assignment;
    this.consumer.pause([...assignment.keys()].map((topic) => ({ topic })));
    for (const read of this.reads.values()) {
      if (!assignment.get(read.topic)?.has(read.partition)) {
        this.reads.delete(key(read.topic, read.partition));
        read.settle(new SessionClosedError(`${read.topic}:${read.partition} is no longer assigned to the reader`));
        continue;
      }
      this.consumer.seek({ topic: read.topic, partition: read.partition, offset: String(read.position) });
      this.consumer.resume([{ topic: read.topic, partitions: [read.partition] }]);
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
    for (const read of this.reads.values()) read.settle(error);
    this.reads.clear();
  }

  private onBatch(batch: Batch): void {
    const read = this.reads.get(key(batch.topic, batch.partition));
    if (!read) {
      this.pause(batch.topic, batch.partition);
      return;
    }
    // kafkajs 2.x keeps the offset it fetched from on the batch (not in its typings).
    const fetchedOffset = (batch as Batch & { fetchedOffset?: string }).fetchedOffset;
    const fetched = fetchedOffset === undefined ? read.position : Number(fetchedOffset);
    if (fetched < read.position) {
      // Fetched before our seek, or after kafkajs reset the partition: go back to our position.
      this.consumer.seek({ topic: read.topic, partition: read.partition, offset: String(read.position) });
      return;
    }
    if (fetched > read.position) this.skipped(read, read.position);
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < read.position || offset >= read.until) continue;
      read.records.push({
        topic: batch.topic,
        partition: batch.partition,
        offset,
        timestamp: Number(message.timestamp),
        key: message.key ?? null,
        value: message.value ?? null,
        headers: message.headers ?? {},
      });
    }
    // lastOffset() counts transaction markers and aborted records too: it is the position.
    this.advance(read, Number(batch.lastOffset()) + 1);
  }

  /** Batches kafkajs filtered to nothing (only aborted records or markers) never reach eachBatch. */
  private onBatchProcessed(event: ConsumerEndBatchProcessEvent): void {
    const { topic, partition, batchSize, firstOffset, lastOffset } = event.payload;
    if (batchSize !== 0) return;
    const read = this.reads.get(key(topic, partition));
    if (!read) return;
    const last = Number(lastOffset);
    if (last + 1 <= read.position) return;
    if (firstOffset === null || Number(firstOffset) > read.position) this.skipped(read, read.position);
    this.advance(read, last + 1);
  }

  private skipped(read: ActiveRead, offset: number): void {
    read.checks.push(this.options.verify(read.topic, read.partition, offset));
  }

  private advance(read: ActiveRead, position: number): void {
    read.position = Math.max(read.position, position);
    if (read.position < read.until) return;
    this.reads.delete(key(read.topic, read.partition));
    this.pause(read.topic, read.partition);
    Promise.all(read.checks).then(
      () => read.settle(),
      (error: unknown) => read.settle(error),
    );
  }
}
