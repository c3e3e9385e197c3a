import { MicrobatchError, type AssignmentHandlers, type Coordinator, type Logger } from '@microbatch/core';
import type { Consumer } from 'kafkajs';
import { createKafkaClient, retrySettings } from '../kafkajs/client.js';
import { tasksOfPartitions, type TaskClaim } from './assigner.js';
import { taskAssigner } from './kafkajs-assigner.js';
import { resolveGroupOptions, type KafkaGroupCoordinatorOptions, type ResolvedGroupOptions } from './options.js';

// kafkajs sleeps this long between polls when every partition is paused, then heartbeats if the
// heartbeat interval has passed: it bounds how late a heartbeat goes out and how soon a member
// that woke up from a stall learns that it was expelled.
const POLL_MS = 100;

/**
 * The application's members form one Kafka consumer group; Kafka's group protocol decides who is
 * a member and the whole-task assigner decides which member runs which task (docs/semantics.md
 * §10). A member runs a consumer for membership only: it subscribes to the topics with every
 * partition paused, so it never fetches, and heartbeats from its poll loop; the tasks read through
 * their sources' own readers.
 */
export function createKafkaGroupCoordinator(options: KafkaGroupCoordinatorOptions): Coordinator {
  return new KafkaGroupCoordinator(resolveGroupOptions(options));
}

class KafkaGroupCoordinator implements Coordinator {
  readonly kind = 'kafka-group';
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private consumer: Consumer | undefined;
  private stopping: Promise<void> | undefined;
  // Settles start(): the first assignment was delivered, or joining failed or was stopped.
  private firstJoin: { resolve(): void; reject(error: unknown): void } | undefined;
  // What this member claims at each (re)join: the tasks of its last assignment, and under which
  // member id and generation it got them.
  private owned: readonly number[] = [];
  private memberId = '';
  private generation = -1;

  constructor(private readonly options: ResolvedGroupOptions) {}

  claim(): TaskClaim {
    return { memberId: this.memberId, generation: this.generation, tasks: this.owned };
  }

  async start(handlers: AssignmentHandlers, context: { readonly appId: string; readonly logger: Logger }): Promise<void> {
    if (this.state !== 'new') throw new MicrobatchError('ALREADY_STARTED', `the Kafka group coordinator is ${this.state}; it starts once`);
    this.state = 'starting';
    const { topics, connection } = this.options;
    const groupId = this.options.groupId ?? context.appId;
    const logger = (this.options.logger ?? context.logger).child({ groupId });
    const failure = (what: string, cause: unknown) =>
      new MicrobatchError('SOURCE_FAILED', `Kafka group coordinator (group "${groupId}"): ${what}: ${String(cause)}`, {
        cause,
        details: { groupId, brokers: connection.brokers, topics },
      });

    let joined = false;
    const firstJoin = new Promise<void>((resolve, reject) => (this.firstJoin = { resolve, reject }));
    firstJoin.catch(() => {});
    const consumer = createKafkaClient(connection, logger).consumer({
      groupId,
      partitionAssigners: [taskAssigner(this, () => logger)],
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: this.options.rebalanceTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
      metadataMaxAge: this.options.metadataMaxAgeMs,
      maxWaitTimeInMs: POLL_MS,
      allowAutoTopicCreation: false,
      // Before the first join a crash fails start; after it kafkajs restarts on retriable errors.
      retry: { ...retrySettings(connection), restartOnFailure: async () => joined },
    });
    this.consumer = consumer;
    const pauseAll = () => {
      try {
        consumer.pause(topics.map((topic) => ({ topic })));
      } catch {
        // Not running (crashed, restarting or stopping): nothing is fetched anyway.
      }
    };
    const { GROUP_JOIN, HEARTBEAT, CRASH, REBALANCING } = consumer.events;
    consumer.on(GROUP_JOIN, ({ payload }) => {
      // Emitted before the poll loop resumes, and pauses do not survive a restart: pause here.
      pauseAll();
      if (this.state === 'stopped') return;
      const tasks = tasksOfPartitions(payload.memberAssignment);
      this.owned = tasks;
      this.memberId = payload.memberId;
      joined = true;
      logger.info({ memberId: payload.memberId, leader: payload.isLeader, tasks }, 'joined the consumer group');
      handlers.assigned(tasks);
      this.firstJoin?.resolve();
    });
    consumer.on(HEARTBEAT, ({ payload }) => {
      this.generation = payload.groupGenerationId;
    });
    consumer.on(REBALANCING, ({ payload }) => logger.info({ memberId: payload.memberId }, 'the consumer group is rebalancing'));
    consumer.on(CRASH, ({ payload: { error, restart } }) => {
      if (this.state === 'stopped') return;
      if (restart) {
        // kafkajs left the group before restarting, so the others may take these tasks now.
        logger.warn({ err: error, tasks: this.owned }, 'the group membership consumer crashed and rejoins; this member runs no task until then');
        if (this.owned.length > 0) {
          this.owned = [];
          handlers.assigned([]);
        }
        return;
      }
      const fatal = failure('the membership consumer stopped', error);
      if (joined) handlers.failed(fatal);
      else this.firstJoin?.reject(fatal);
    });

    try {
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: [...topics] });
      } catch (error) {
        throw failure('could not connect and subscribe', error);
      }
      const running = consumer.run({ autoCommit: false, eachBatch: async ({ batch }) => consumer.pause([{ topic: batch.topic }]) });
      pauseAll(); // run() created the group synchronously: nothing is fetched before its first join
      await running;
      await firstJoin;
      if (this.state === 'starting') this.state = 'running';
    } catch (error) {
      await this.stop();
      throw error;
    } finally {
      this.firstJoin = undefined;
    }
  }

  stop(): Promise<void> {
    this.firstJoin?.reject(new MicrobatchError('STOPPED', 'the Kafka group coordinator was stopped before it joined the group'));
    this.state = 'stopped';
    this.stopping ??= (async () => {
      // Leaves the group (LeaveGroup), so the other members rebalance at once instead of after the session timeout.
      await this.consumer?.disconnect();
    })();
    return this.stopping;
  }
}
