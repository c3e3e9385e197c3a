import { invalidOption } from '@microbatch/core';
import type { KafkaHeaderValue, RawKafkaRecord } from './reader.js';

/** A record of a Kafka partition with its value deserialized. */
export interface KafkaRecord<V> {
  readonly kind: 'record';
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: V;
  readonly headers: Readonly<Record<string, KafkaHeaderValue>>;
}

/**
 * A record whose value failed to deserialize, emitted in the batch in place of the record when
 * `onDeserializationError: "deadLetter"`: route it with `filter(isDeadLetter)` to a sink of its own,
 * so dead letters are written exactly once together with the batch that read them.
 */
export interface KafkaDeadLetter extends RawKafkaRecord {
  readonly kind: 'deadLetter';
  /** The raw value as it is in the log (inherited; repeated here for the docs). */
  readonly value: Buffer | null;
  /** Why deserialization failed (the deserializer's error message). */
  readonly error: string;
}

/**
 * Turns a raw value into a typed one. May be async (a schema registry lookup): the source then runs
 * up to `deserializerConcurrency` calls at once per range and keeps the records in offset order.
 */
export type DeserializerFunction<V> = (value: Buffer | null, record: RawKafkaRecord) => V;
/** `"bytes"` gives `Buffer | null`, `"string"` UTF-8 `string | null`, `"json"` the parsed value (null for a null value). */
export type Deserializer<V> = 'bytes' | 'string' | 'json' | DeserializerFunction<V>;

/** The value type a deserializer option produces. */
export type ValueOf<D> = D extends undefined | 'bytes'
  ? Buffer | null
  : D extends 'string'
    ? string | null
    : D extends 'json'
      ? unknown
      : D extends DeserializerFunction<infer V>
        ? Awaited<V>
        : never;

export function isDeadLetter(value: unknown): value is KafkaDeadLetter {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'deadLetter';
}

export function isKafkaRecord<V>(value: KafkaRecord<V> | KafkaDeadLetter): value is KafkaRecord<V> {
  return value.kind === 'record';
}

/** A typed JSON deserializer: `deserializer: json<MyEvent>()`. It does not validate the shape. */
export function json<T>(): DeserializerFunction<T | null> {
  return (value) => (value === null ? null : (JSON.parse(value.toString('utf8')) as T));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function deserializerFunction(deserializer: Deserializer<unknown> | undefined): DeserializerFunction<unknown> {
  switch (deserializer ?? 'bytes') {
    case 'bytes':
      return (value) => value;
    case 'string':
      // fatal: invalid UTF-8 is a deserialization failure, not a string full of U+FFFD.
      return (value) => (value === null ? null : utf8.decode(value));
    case 'json':
      return json<unknown>();
    default:
      if (typeof deserializer !== 'function') {
        throw invalidOption('deserializer', 'must be "bytes", "string", "json" or a function', deserializer);
      }
      return deserializer;
  }
}
