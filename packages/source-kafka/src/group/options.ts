import { invalidOption, type Logger } from '@microbatch/core';
import type { KafkaConfig } from 'kafkajs';
import type { ConnectionOptions } from '../kafkajs/client.js';
import { resolveOptions } from '../options.js';

export interface KafkaGroupCoordinatorOptions {
  /** Bootstrap brokers, `["host:port"]` or `"host:port,host:port"`. Required. */
  readonly brokers: readonly string[] | string;
  /** The topics whose partition numbers are the tasks (task N = partition N of each); usually the sources' topics. Required. */
  readonly topics: readonly string[];
  /** The consumer group the members join. Default: the application id given to `start`. */
  readonly groupId?: string;
  /** A member that sends no heartbeat for this long leaves the group and its tasks move. Default 10000. */
  readonly sessionTimeoutMs?: number;
  /** Heartbeat period; below `sessionTimeoutMs`. Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** How long a rebalance waits for every member to rejoin. Default `sessionTimeoutMs`. */
  readonly rebalanceTimeoutMs?: number;
  /** How often the topics' partition counts are checked, so an added partition becomes a task. Default 10000. */
  readonly metadataMaxAgeMs?: number;
  /** kafkajs client id. Default `"microbatch"`. */
  readonly clientId?: string;
  /** Extra kafkajs client settings (ssl, sasl, timeouts...), as for the source. */
  readonly kafka?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator'>;
  /** Backoff of broker requests, as for the source. Default `{ initialMs: 100, maxMs: 5000 }`. */
  readonly retryBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Default: the logger the group gives `start`. */
  readonly logger?: Logger;
}

export interface ResolvedGroupOptions {
  readonly connection: ConnectionOptions;
  readonly topics: readonly string[];
  readonly groupId: string | undefined;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly metadataMaxAgeMs: number;
  readonly logger: Logger | undefined;
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw invalidOption(name, `must be a positive integer, got ${String(value)}`, value);
  return value;
}

export function resolveGroupOptions(options: KafkaGroupCoordinatorOptions): ResolvedGroupOptions {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'must be an object', options);
  if (options.topics === undefined) throw invalidOption('topics', 'is required: the topics whose partition numbers are the tasks', options.topics);
  // The source's own parsing of brokers, topics and the connection settings.
  const source = resolveOptions({ brokers: options.brokers, topics: options.topics, clientId: options.clientId, kafka: options.kafka, retryBackoff: options.retryBackoff });
  if (source.subscription.kind !== 'topics') throw new Error('unreachable: topics were given');
  if (options.groupId !== undefined && (typeof options.groupId !== 'string' || options.groupId === '')) {
    throw invalidOption('groupId', 'must be a non-empty string', options.groupId);
  }
  const sessionTimeoutMs = positive('sessionTimeoutMs', options.sessionTimeoutMs, 10_000);
  const heartbeatIntervalMs = positive('heartbeatIntervalMs', options.heartbeatIntervalMs, 1_000);
  if (heartbeatIntervalMs >= sessionTimeoutMs) {
    throw invalidOption('heartbeatIntervalMs', `must be below sessionTimeoutMs (${sessionTimeoutMs}), got ${heartbeatIntervalMs}`, heartbeatIntervalMs);
  }
  if (options.logger !== undefined && (typeof options.logger !== 'object' || typeof options.logger.child !== 'function')) {
    throw invalidOption('logger', 'must be a Logger', options.logger);
  }
  const { brokers, clientId, kafka, retryInitialMs, retryMaxMs } = source;
  return {
    connection: { brokers, clientId, kafka, retryInitialMs, retryMaxMs },
    topics: source.subscription.topics,
    groupId: options.groupId,
    sessionTimeoutMs,
    heartbeatIntervalMs,
    rebalanceTimeoutMs: positive('rebalanceTimeoutMs', options.rebalanceTimeoutMs, sessionTimeoutMs),
    metadataMaxAgeMs: positive('metadataMaxAgeMs', options.metadataMaxAgeMs, 10_000),
    logger: options.logger,
  };
}
