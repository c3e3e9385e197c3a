import type { Logger } from './logger.js';

/** What a coordinator tells the group it serves. */
export interface AssignmentHandlers {
  /**
   * The whole set of tasks this member owns now; called after joining and on every change. The
   * group starts the new ones and stops the ones missing. Calls are handled one at a time, in order.
   */
  assigned(tasks: readonly number[]): void;
  /** The coordinator failed for good: the group stops with this error. */
  failed(error: unknown): void;
}

/**
 * Decides which member of an application's group runs which task. Correctness never rests on it:
 * every task takes a new epoch when it starts, which fences any other owner's writes (§10), so a
 * coordinator may hand a task to two members for a while (a rebalance, a stalled member) without
 * doubling any output. It only decides who does the work. Implementations: the Kafka consumer
 * group (`createKafkaGroupCoordinator` in @microbatch/source-kafka) and `createStaticCoordinator`.
 */
export interface Coordinator {
  /** For logs and status pages, e.g. "kafka-group", "static". */
  readonly kind: string;
  /** Joins; resolves once the first assignment was delivered (or joining failed). */
  start(handlers: AssignmentHandlers, context: { readonly appId: string; readonly logger: Logger }): Promise<void>;
  /** Leaves, so the other members take this member's tasks at once. Safe to call twice. */
  stop(): Promise<void>;
}
