import type { Kafka, Message, Producer, RecordMetadata, Transaction } from 'kafkajs';

export interface TransactionalProducerOptions {
  readonly transactionalId: string;
  readonly transactionTimeoutMs: number;
  readonly retry: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

/** One transaction's sends: data requests, then the progress records, then commit. */
export interface OpenTransaction {
  send(topicMessages: ReadonlyArray<{ topic: string; messages: Message[] }>): Promise<RecordMetadata[]>;
}

/**
 * A kafkajs transactional producer for one transactional id. kafkajs sends InitProducerId on the
 * first `transaction()`: that bumps the id's producer epoch, which fences every older producer of
 * the id, and completes (aborts) a transaction an older producer left open; the broker answers
 * CONCURRENT_TRANSACTIONS, which kafkajs retries, until that older transaction is completed.
 *
 * kafkajs initializes once per producer and never again, so a producer that was fenced, or whose
 * commit failed (its state machine is then stuck in COMMITTING), is thrown away: `run` disconnects
 * it on any failure, and the next `run` builds a new one, whose InitProducerId also settles what
 * the failed one left behind (a commit that reached the coordinator stays committed, an open
 * transaction is aborted).
 */
export class TransactionalProducer {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;

  constructor(
    private readonly kafka: () => Kafka,
    readonly options: TransactionalProducerOptions,
  ) {}

  /** Whether a producer is connected and initialized (its next transaction fences no one). */
  get initialized(): boolean {
    return this.producer !== undefined;
  }

  private connect(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const producer = this.kafka().producer({
        transactionalId: this.options.transactionalId,
        transactionTimeout: this.options.transactionTimeoutMs,
        maxInFlightRequests: 1,
        // Output topics must exist: the sink checks them first, and never creates one by accident.
        allowAutoTopicCreation: false,
        retry: this.options.retry,
      });
      try {
        await producer.connect();
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
      this.producer = producer;
      return producer;
    })().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /**
   * Runs `fn` in a transaction and commits it. On any failure the transaction is aborted when it
   * still can be (kafkajs allows abort only while TRANSACTING), the producer is discarded, and the
   * error is rethrown: nothing of the transaction becomes visible to read_committed consumers.
   */
  async run<R>(fn: (tx: OpenTransaction) => Promise<R>): Promise<R> {
    const producer = await this.connect();
    let transaction: Transaction | undefined;
    try {
      transaction = await producer.transaction();
      const tx = transaction;
      const result = await fn({ send: (topicMessages) => tx.sendBatch({ topicMessages: [...topicMessages], acks: -1 }) });
      await tx.commit();
      return result;
    } catch (error) {
      if (transaction?.isActive()) await transaction.abort().catch(() => undefined);
      await this.discard();
      throw error;
    }
  }

  /** Drops the producer; the next `run` initializes a new one (and so fences this id's other producers). */
  async discard(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }
}
