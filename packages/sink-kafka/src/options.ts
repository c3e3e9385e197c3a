import { type Logger, invalidOption } from '@microbatch/core';
import type { IHeaders, Kafka, KafkaConfig } from 'kafkajs';

/** What a serializer may return: bytes, text (UTF-8), or null (a null key; a null value is a tombstone). */
export type Bytes = Buffer | string | null;

export interface KafkaSinkOptions<T> {
  /** The output's stable name: it keys the transactional ids and the progress records, so renaming it replays everything. */
  readonly name: string;
  /** Bootstrap brokers, `["host:port"]` or `"host:port,host:port"` (a `kafka://` prefix is dropped). Required. */
  readonly brokers?: readonly string[] | string;
  /** A kafkajs client for the producers and the admin client, instead of one built from `brokers` (the progress reader always builds its own from `brokers`). */
  readonly kafka?: Kafka;
  /** The topic of every record, or a function of the record. Required. Topics must exist. */
  readonly topic: string | ((record: T) => string);
  /** The record's key. Default: none (null key). */
  readonly key?: (record: T) => Bytes;
  /** The record's value. Default: `JSON.stringify(record)`. */
  readonly value?: (record: T) => Bytes;
  /** The record's headers. Default: none. */
  readonly headers?: (record: T) => IHeaders | undefined;
  /** The record's partition number. Default: kafkajs' default partitioner (murmur2 of the key, as the Java client). */
  readonly partition?: (record: T) => number | undefined;
  /** `batch` (default): one transaction per batch for all its partitions. `partition`: one transaction (and transactional id) per partition, concurrently. */
  readonly granularity?: 'batch' | 'partition';
  /** Transactional ids are `<prefix><appId>.<name>` (plus `.p<N>` per partition). Default `"microbatch."`. */
  readonly transactionalIdPrefix?: string;
  /** The compacted topic holding the progress records. Default `"microbatch-progress"`. */
  readonly progressTopic?: string;
  /** Create the progress topic (compacted) when it is missing. Default true. */
  readonly createProgressTopic?: boolean;
  /** Partitions of a progress topic the sink creates. Default 1. */
  readonly progressPartitions?: number;
  /** Replication factor of a progress topic the sink creates. Default: the broker's `default.replication.factor`. */
  readonly progressReplicationFactor?: number;
  /** kafkajs' `transactionTimeout`: the broker aborts a transaction open longer than this. Default 60000. */
  readonly transactionTimeoutMs?: number;
  /** Upper bound of the bytes of one produce request (also capped by each topic's `max.message.bytes`). Default 524288. */
  readonly maxRequestBytes?: number;
  /** How long a write waits for its commit to become readable by read_committed consumers. Default: `transactionTimeoutMs`. */
  readonly visibilityTimeoutMs?: number;
  /** kafkajs client id (when the sink builds the client). Default `"microbatch-sink"`. */
  readonly clientId?: string;
  /** Extra kafkajs client settings (ssl, sasl, connection timeouts...) when the sink builds the client. */
  readonly kafkaConfig?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator'>;
  /** kafkajs request retries. Default `{ retries: 5, initialRetryTime: 100, maxRetryTime: 5000 }`. */
  readonly retry?: { readonly retries?: number; readonly initialRetryTime?: number; readonly maxRetryTime?: number };
  readonly logger?: Logger;
}

export interface ResolvedKafkaSinkOptions<T> {
  readonly name: string;
  readonly brokers: string[];
  readonly topicOf: (record: T) => string;
  readonly staticTopic: string | undefined;
  readonly key: ((record: T) => Bytes) | undefined;
  readonly value: (record: T) => Bytes;
  readonly headers: ((record: T) => IHeaders | undefined) | undefined;
  readonly partition: ((record: T) => number | undefined) | undefined;
  readonly granularity: 'batch' | 'partition';
  readonly transactionalIdPrefix: string;
  readonly progressTopic: string;
  readonly createProgressTopic: boolean;
  readonly progressPartitions: number;
  readonly progressReplicationFactor: number | undefined;
  readonly transactionTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly visibilityTimeoutMs: number;
  readonly clientId: string;
  readonly retry: { retries: number; initialRetryTime: number; maxRetryTime: number };
}

const positiveInt = (name: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) throw invalidOption(name, 'expected a positive integer', value);
  return value;
};

const optionalFunction = <F>(name: string, value: unknown): F | undefined => {
  if (value !== undefined && typeof value !== 'function') throw invalidOption(name, 'expected a function of the record', value);
  return value as F | undefined;
};

/** Kafka's own rule for topic names (kafka.common.internals.Topic): 1-249 of [a-zA-Z0-9._-]. */
export const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export function resolveOptions<T>(options: KafkaSinkOptions<T>): ResolvedKafkaSinkOptions<T> {
  if (typeof options !== 'object' || options === null) throw invalidOption('options', 'expected an object', options);
  if (typeof options.name !== 'string' || options.name.length === 0) throw invalidOption('name', 'expected a non-empty string', options.name);
  const brokers = typeof options.brokers === 'string' ? options.brokers.split(',') : [...(options.brokers ?? [])];
  const list = brokers.map((b) => b.trim().replace(/^kafka:\/\//, '')).filter(Boolean);
  if (list.length === 0) throw invalidOption('brokers', 'expected host:port brokers', options.brokers);
  for (const broker of list) if (!/^[^:\s]+:\d+$/.test(broker)) throw invalidOption('brokers', `"${broker}" is not host:port`, options.brokers);
  const { topic } = options;
  if (typeof topic === 'string') {
    if (!TOPIC_NAME.test(topic)) throw invalidOption('topic', 'expected a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -) or a function of the record', topic);
  } else if (typeof topic !== 'function') throw invalidOption('topic', 'expected a topic name or a function of the record', topic);
  const granularity = options.granularity ?? 'batch';
  if (granularity !== 'batch' && granularity !== 'partition') throw invalidOption('granularity', "expected 'batch' or 'partition'", granularity);
  const prefix = options.transactionalIdPrefix ?? 'microbatch.';
  if (typeof prefix !== 'string') throw invalidOption('transactionalIdPrefix', 'expected a string', prefix);
  const progressTopic = options.progressTopic ?? 'microbatch-progress';
  if (typeof progressTopic !== 'string' || !TOPIC_NAME.test(progressTopic)) throw invalidOption('progressTopic', 'expected a Kafka topic name', progressTopic);
  const transactionTimeoutMs = positiveInt('transactionTimeoutMs', options.transactionTimeoutMs, 60_000);
  const retry = options.retry ?? {};
  return {
    name: options.name,
    brokers: list,
    topicOf: typeof topic === 'string' ? () => topic : topic,
    staticTopic: typeof topic === 'string' ? topic : undefined,
    key: optionalFunction('key', options.key),
    value: optionalFunction<(record: T) => Bytes>('value', options.value) ?? ((record: T) => JSON.stringify(record) ?? null),
    headers: optionalFunction('headers', options.headers),
    partition: optionalFunction('partition', options.partition),
    granularity,
    transactionalIdPrefix: prefix,
    progressTopic,
    createProgressTopic: options.createProgressTopic ?? true,
    progressPartitions: positiveInt('progressPartitions', options.progressPartitions, 1),
    progressReplicationFactor: options.progressReplicationFactor === undefined ? undefined : positiveInt('progressReplicationFactor', options.progressReplicationFactor, 1),
    transactionTimeoutMs,
    maxRequestBytes: positiveInt('maxRequestBytes', options.maxRequestBytes, 512 * 1024),
    visibilityTimeoutMs: positiveInt('visibilityTimeoutMs', options.visibilityTimeoutMs, transactionTimeoutMs),
    clientId: options.clientId ?? 'microbatch-sink',
    retry: {
      retries: retry.retries ?? 5,
      initialRetryTime: retry.initialRetryTime ?? 100,
      maxRetryTime: retry.maxRetryTime ?? 5000,
    },
  };
}
