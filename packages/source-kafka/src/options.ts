import { invalidOption, type Logger } from '@microbatch/core';
import type { KafkaConfig } from 'kafkajs';
import type { Deserializer } from './deserialize.js';
import { parsePartitionId } from './partition-id.js';
import type { KafkaReader } from './reader.js';

export type StartingOffset = number | 'earliest' | 'latest';
export type DeserializationErrorPolicy = 'fail' | 'skip' | 'deadLetter';

export interface KafkaSourceOptions {
  /** Stable source name; keys this source's offsets in the checkpoint. Default `"kafka"`. */
  readonly name?: string;
  /** Bootstrap brokers, `["host:port"]` or `"host:port,host:port"`. Required. */
  readonly brokers: readonly string[] | string;
  /** Subscribe: these topics (all their partitions, including ones added later). */
  readonly topics?: readonly string[];
  /** SubscribePattern: every topic whose name matches, including topics created later. */
  readonly topicPattern?: RegExp;
  /** Assign: exactly these partitions, as `"<topic>:<partition>"` ids. */
  readonly assign?: readonly string[];
  /**
   * Where partitions start when the checkpoint has no offset for them on a first start. An object
   * gives per-partition offsets (`{"events:0": 42}`); partitions it omits start at `latest`.
   * Partitions discovered while running always start at `earliest`. Default `"latest"`.
   */
  readonly startingOffsets?: 'earliest' | 'latest' | Readonly<Record<string, StartingOffset>>;
  /** Default `"read_committed"`: aborted transactions are never returned. */
  readonly isolationLevel?: 'read_committed' | 'read_uncommitted';
  /** How record values become typed: `"bytes"` (default), `"string"`, `"json"` or a function. */
  readonly deserializer?: Deserializer<unknown>;
  /** What a record that fails to deserialize does. Default `"fail"`. */
  readonly onDeserializationError?: DeserializationErrorPolicy;
  /** What a range whose start was deleted by retention does. Default `"fail"`. */
  readonly onOffsetOutOfRange?: 'fail' | 'skip';
  /** Cap of records per partition per batch; overrides the context's default. */
  readonly maxRecordsPerPartition?: number;
  /** A range that cannot be read within this time fails its batch. Default 60000. */
  readonly readTimeoutMs?: number;
  /** Backoff between attempts after a broker or network error. Default `{ initialMs: 100, maxMs: 5000 }`. */
  readonly retryBackoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Consumer group to which processed offsets are committed after each batch, for lag tools only. Default none. */
  readonly commitGroupId?: string;
  /**
   * How ranges are fetched with kafkajs. `"fetch"` (default): Fetch requests straight to each
   * partition's leader, no consumer group. `"consumer"`: a kafkajs consumer in a private group,
   * paused and resumed per range (the reader before 0.2; `readerGroupPrefix` and
   * `prefetchBytesPerPartition` apply to it only).
   */
  readonly reader?: 'fetch' | 'consumer';
  /** Prefix of the private, per-instance group of `reader: "consumer"`. Default `"microbatch-reader"`. */
  readonly readerGroupPrefix?: string;
  /** Bytes fetched per partition per request. Default 1048576. */
  readonly maxBytesPerPartition?: number;
  /**
   * Bytes (keys and values) a partition keeps fetching past the range just read, for the next
   * range, which usually starts there. Default 0: it pauses as the range completes.
   */
  readonly prefetchBytesPerPartition?: number;
  /** How many calls of an async deserializer run at once per range read. Default 16. */
  readonly deserializerConcurrency?: number;
  /** kafkajs client id. Default `"microbatch"`. */
  readonly clientId?: string;
  /** Extra kafkajs client settings (ssl, sasl, timeouts...). */
  readonly kafka?: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator'>;
  /** Advanced: another Kafka client behind the reader interface (default: kafkajs). */
  readonly createReader?: (options: ResolvedOptions, logger: Logger, scope: ReaderScope) => KafkaReader;
}

/** What the context tells a reader about the partitions it will read. */
export interface ReaderScope {
  /** Set when the context runs one task of a group: the partitions the task owns. A reader may fetch only those. */
  readonly ownsPartition?: (topic: string, partition: number) => boolean;
}

export interface ResolvedOptions {
  readonly name: string;
  readonly brokers: string[];
  readonly subscription:
    | { readonly kind: 'topics'; readonly topics: readonly string[] }
    | { readonly kind: 'pattern'; readonly pattern: RegExp }
    | { readonly kind: 'assign'; readonly partitions: readonly string[] };
  readonly startingOffsets: 'earliest' | 'latest' | Readonly<Record<string, StartingOffset>>;
  readonly readUncommitted: boolean;
  readonly onDeserializationError: DeserializationErrorPolicy;
  readonly onOffsetOutOfRange: 'fail' | 'skip';
  readonly maxRecordsPerPartition: number | undefined;
  readonly readTimeoutMs: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly commitGroupId: string | undefined;
  readonly reader: 'fetch' | 'consumer';
  readonly readerGroupPrefix: string;
  readonly maxBytesPerPartition: number;
  readonly prefetchBytesPerPartition: number;
  readonly deserializerConcurrency: number;
  readonly clientId: string;
  readonly kafka: Omit<KafkaConfig, 'brokers' | 'clientId' | 'logCreator'>;
}

function readerKind(value: unknown): 'fetch' | 'consumer' {
  if (value === undefined) return 'fetch';
  if (value === 'fetch' || value === 'consumer') return value;
  throw invalidOption('reader', 'expected "fetch" or "consumer"', value);
}

function positiveInt(name: string, value: number | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw invalidOption(name, 'must be a positive integer', value);
  return value;
}

function nonNegativeInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw invalidOption(name, 'must be a non-negative integer', value);
  return value;
}

function validPartitionId(option: string, id: unknown): void {
  try {
    parsePartitionId(id as string);
  } catch {
    throw invalidOption(option, `"${String(id)}" is not a "<topic>:<partition>" id`, id);
  }
}

function startingOffset(key: string, value: StartingOffset): void {
  if (value === 'earliest' || value === 'latest') return;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw invalidOption(`startingOffsets["${key}"]`, 'must be "earliest", "latest" or an offset >= 0', value);
  }
}

export function resolveOptions(options: KafkaSourceOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw invalidOption('options', 'must be an object', options);
  const brokers = (typeof options.brokers === 'string' ? options.brokers.split(',') : [...(options.brokers ?? [])])
    .map((b) => b.trim().replace(/^kafka:\/\//, ''))
    .filter(Boolean);
  if (brokers.length === 0) throw invalidOption('brokers', 'at least one "host:port" is required', options.brokers);

  const given = [options.topics, options.topicPattern, options.assign].filter((v) => v !== undefined);
  if (given.length !== 1) throw invalidOption('topics', 'set exactly one of topics, topicPattern or assign', given.length);
  let subscription: ResolvedOptions['subscription'];
  if (options.topics !== undefined) {
    if (!Array.isArray(options.topics) || options.topics.length === 0 || options.topics.some((t) => typeof t !== 'string' || t === '')) {
      throw invalidOption('topics', 'must be a non-empty array of topic names', options.topics);
    }
    subscription = { kind: 'topics', topics: [...new Set(options.topics)] };
  } else if (options.topicPattern !== undefined) {
    if (!(options.topicPattern instanceof RegExp)) throw invalidOption('topicPattern', 'must be a RegExp', options.topicPattern);
    // A global/sticky RegExp keeps lastIndex between test() calls; match with a fresh copy.
    subscription = { kind: 'pattern', pattern: new RegExp(options.topicPattern.source, options.topicPattern.flags.replace(/[gy]/g, '')) };
  } else {
    if (!Array.isArray(options.assign) || options.assign.length === 0) {
      throw invalidOption('assign', 'must be a non-empty array of "<topic>:<partition>" ids', options.assign);
    }
    for (const id of options.assign) validPartitionId('assign', id);
    subscription = { kind: 'assign', partitions: [...new Set(options.assign)] };
  }

  const starting = options.startingOffsets ?? 'latest';
  if (typeof starting === 'object' && starting !== null) {
    for (const [key, value] of Object.entries(starting)) {
      validPartitionId('startingOffsets', key);
      startingOffset(key, value);
    }
  } else if (starting !== 'earliest' && starting !== 'latest') {
    throw invalidOption('startingOffsets', 'must be "earliest", "latest" or an object of per-partition offsets', starting);
  }

  const isolation = options.isolationLevel ?? 'read_committed';
  if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') {
    throw invalidOption('isolationLevel', 'must be "read_committed" or "read_uncommitted"', isolation);
  }
  const onDeserializationError = options.onDeserializationError ?? 'fail';
  if (!['fail', 'skip', 'deadLetter'].includes(onDeserializationError)) {
    throw invalidOption('onDeserializationError', 'must be "fail", "skip" or "deadLetter"', onDeserializationError);
  }
  const onOffsetOutOfRange = options.onOffsetOutOfRange ?? 'fail';
  if (onOffsetOutOfRange !== 'fail' && onOffsetOutOfRange !== 'skip') {
    throw invalidOption('onOffsetOutOfRange', 'must be "fail" or "skip"', onOffsetOutOfRange);
  }
  const name = options.name ?? 'kafka';
  if (typeof name !== 'string' || name === '') throw invalidOption('name', 'must be a non-empty string', name);
  if (options.commitGroupId !== undefined && (typeof options.commitGroupId !== 'string' || options.commitGroupId === '')) {
    throw invalidOption('commitGroupId', 'must be a non-empty string', options.commitGroupId);
  }
  const retryInitialMs = positiveInt('retryBackoff.initialMs', options.retryBackoff?.initialMs, 100)!;
  const retryMaxMs = positiveInt('retryBackoff.maxMs', options.retryBackoff?.maxMs, 5000)!;
  return {
    name,
    brokers,
    subscription,
    startingOffsets: starting,
    readUncommitted: isolation === 'read_uncommitted',
    onDeserializationError,
    onOffsetOutOfRange,
    maxRecordsPerPartition: positiveInt('maxRecordsPerPartition', options.maxRecordsPerPartition, undefined),
    readTimeoutMs: positiveInt('readTimeoutMs', options.readTimeoutMs, 60_000)!,
    retryInitialMs,
    retryMaxMs: Math.max(retryMaxMs, retryInitialMs),
    commitGroupId: options.commitGroupId,
    reader: readerKind(options.reader),
    readerGroupPrefix: options.readerGroupPrefix ?? 'microbatch-reader',
    maxBytesPerPartition: positiveInt('maxBytesPerPartition', options.maxBytesPerPartition, 1_048_576)!,
    prefetchBytesPerPartition: nonNegativeInt('prefetchBytesPerPartition', options.prefetchBytesPerPartition, 0),
    deserializerConcurrency: positiveInt('deserializerConcurrency', options.deserializerConcurrency, 16)!,
    clientId: options.clientId ?? 'microbatch',
    kafka: options.kafka ?? {},
  };
}
