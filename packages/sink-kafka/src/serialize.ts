import type { IHeaders, Message } from 'kafkajs';
import { serializerError, type Where } from './errors.js';
import type { Bytes, ResolvedKafkaSinkOptions } from './options.js';

/** One record ready to send, with its estimated size on the wire. */
export interface OutMessage {
  readonly topic: string;
  readonly message: Message;
  readonly bytes: number;
}

// A record's framing in a record batch (attributes, deltas, varint lengths) is at most ~21 bytes; the
// batch header is 61. Estimates err on the large side, so a chunk never exceeds the limits it was cut to.
export const RECORD_OVERHEAD = 24;
export const BATCH_OVERHEAD = 64;

const size = (bytes: Bytes): number => (bytes === null ? 0 : typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length);

function checkBytes(value: unknown): Bytes {
  if (value === null || typeof value === 'string' || Buffer.isBuffer(value)) return value;
  throw new TypeError(`expected a Buffer, a string or null, got ${value === undefined ? 'undefined' : typeof value}`);
}

function headerBytes(headers: IHeaders | undefined): number {
  if (!headers) return 0;
  let total = 0;
  for (const [name, value] of Object.entries(headers)) {
    total += Buffer.byteLength(name) + 4;
    for (const v of Array.isArray(value) ? value : [value]) total += v === undefined ? 0 : size(v as Bytes);
  }
  return total;
}

/**
 * Serializes one partition's records before any transaction begins, so a serializer that throws
 * fails the batch with INVALID_RECORD having written nothing.
 */
export function serialize<T>(records: readonly T[], options: ResolvedKafkaSinkOptions<T>, where: Where): OutMessage[] {
  const out: OutMessage[] = new Array(records.length);
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    let field = 'topic';
    try {
      const topic = options.topicOf(record);
      if (typeof topic !== 'string' || topic.length === 0) throw new TypeError(`expected a topic name, got ${JSON.stringify(topic)}`);
      field = 'value';
      const value = checkBytes(options.value(record));
      field = 'key';
      const key = options.key ? checkBytes(options.key(record)) : null;
      field = 'headers';
      const headers = options.headers?.(record);
      field = 'partition';
      const partition = options.partition?.(record);
      if (partition !== undefined && (!Number.isInteger(partition) || partition < 0)) throw new TypeError(`expected a partition number >= 0, got ${partition}`);
      const message: Message = { key, value, ...(headers ? { headers } : {}), ...(partition === undefined ? {} : { partition }) };
      out[i] = { topic, message, bytes: size(key) + size(value) + headerBytes(headers) + RECORD_OVERHEAD };
    } catch (error) {
      throw serializerError(where, field, i, error);
    }
  }
  return out;
}

/**
 * Cuts messages into produce requests of at most `limit(topic)` bytes per topic (a record batch
 * per partition must stay below the topic's max.message.bytes; kafkajs puts a request's records
 * for one partition into one batch). Order within a topic is kept.
 */
export function chunk(messages: readonly OutMessage[], limit: (topic: string) => number): Array<Array<{ topic: string; messages: Message[] }>> {
  const requests: Array<Array<{ topic: string; messages: Message[] }>> = [];
  let current = new Map<string, Message[]>();
  let bytes = new Map<string, number>();
  const flush = () => {
    if (current.size === 0) return;
    requests.push([...current].map(([topic, list]) => ({ topic, messages: list })));
    current = new Map();
    bytes = new Map();
  };
  for (const m of messages) {
    const used = bytes.get(m.topic) ?? BATCH_OVERHEAD;
    if (used + m.bytes > limit(m.topic) && current.has(m.topic)) flush();
    const list = current.get(m.topic) ?? [];
    if (list.length === 0) current.set(m.topic, list);
    list.push(m.message);
    bytes.set(m.topic, (bytes.get(m.topic) ?? BATCH_OVERHEAD) + m.bytes);
  }
  flush();
  return requests;
}
