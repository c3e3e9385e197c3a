import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MicrobatchError } from '@microbatch/core';
import { optionalImport } from './optional-import.js';
import { resolveInput, type KafkaInput } from './options.js';

/** One input record: produced to `partition` when given, else by key (kafkajs's default partitioner). */
export interface InputRecord {
  readonly key?: string | null;
  readonly value: string | Record<string, unknown> | unknown[] | number | boolean | null;
  readonly partition?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

function checkRecord(record: unknown, where: string, partitions: number): InputRecord {
  const r = record as InputRecord;
  const bad = (why: string) => new MicrobatchError('INVALID_RECORD', `${where}: ${why}`, { cause: new TypeError(JSON.stringify(record)?.slice(0, 200)), details: { where } });
  if (typeof record !== 'object' || record === null || !('value' in record)) throw bad('a record must be an object with a "value"');
  if (r.key !== undefined && r.key !== null && typeof r.key !== 'string') throw bad('"key" must be a string');
  if (r.partition !== undefined && (!Number.isInteger(r.partition) || r.partition < 0 || r.partition >= partitions)) throw bad(`"partition" must be an integer in [0, ${partitions})`);
  return r;
}

async function* recordsOf(input: KafkaInput, cwd: string, partitions: number): AsyncIterable<InputRecord> {
  if (input.file !== undefined) {
    const file = resolve(cwd, input.file);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new MicrobatchError('INVALID_OPTION', `input file ${file} cannot be read`, { cause: error, details: { file } });
    }
    for (const [i, line] of text.split('\n').entries()) {
      if (!line.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        throw new MicrobatchError('INVALID_RECORD', `${file}:${i + 1} is not JSON`, { cause: error, details: { file, line: i + 1 } });
      }
      yield checkRecord(parsed, `${file}:${i + 1}`, partitions);
    }
    return;
  }
  const module = resolve(cwd, input.generator!);
  const loaded = (await import(pathToFileURL(module).href)) as { default?: unknown };
  if (typeof loaded.default !== 'function') {
    throw new MicrobatchError('INVALID_OPTION', `input generator ${module} must export a default function returning an iterable of records`, { cause: new TypeError(typeof loaded.default), details: { module } });
  }
  let n = 0;
  for await (const record of (loaded.default as () => Iterable<unknown> | AsyncIterable<unknown>)()) yield checkRecord(record, `${module} record ${n++}`, partitions);
}

interface KafkaModule {
  Kafka: new (config: { clientId: string; brokers: string[]; logLevel: number }) => {
    admin(): { connect(): Promise<void>; createTopics(o: { topics: Array<{ topic: string; numPartitions: number; replicationFactor: number }>; waitForLeaders: boolean }): Promise<boolean>; fetchTopicMetadata(o: { topics: string[] }): Promise<{ topics: Array<{ partitions: Array<{ leader: number }> }> }>; disconnect(): Promise<void> };
    producer(o: { idempotent: boolean; maxInFlightRequests: number }): { connect(): Promise<void>; send(o: { topic: string; acks: number; messages: Array<{ key: string | null; value: string; partition?: number; headers?: Record<string, string> }> }): Promise<unknown>; disconnect(): Promise<void> };
  };
}

/** Creates the topic (it must not exist) and produces every record in order; returns the topic and how many records it holds. */
export async function fillTopic(input: KafkaInput, options: { cwd: string; defaultTopic: string }): Promise<{ topic: string; records: number }> {
  const resolved = resolveInput(input);
  const topic = resolved.topic ?? options.defaultTopic;
  const kafkajs = await optionalImport<KafkaModule>('kafkajs', 'filling a Kafka topic');
  // kafkajs logs retried, transient answers (a coordinator still loading) at error level; a failure
  // that lasts still rejects the call below, so nothing is lost by keeping its log quiet.
  const kafka = new kafkajs.Kafka({ clientId: 'microbatch-verify', brokers: [...resolved.brokers], logLevel: 0 });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: resolved.partitions, replicationFactor: 1 }], waitForLeaders: false });
    if (!created) throw new MicrobatchError('INVALID_OPTION', `input topic ${topic} exists already: both runs need a fresh topic holding exactly the input`, { cause: new Error('topic exists'), details: { topic } });
    // KRaft may answer UNKNOWN_TOPIC for a moment after creation: wait until every partition has a leader.
    for (let i = 0; i < 100; i++) {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
      const parts = meta?.topics[0]?.partitions ?? [];
      if (parts.length === resolved.partitions && parts.every((p) => p.leader >= 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await admin.disconnect();
  }
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  let count = 0;
  try {
    let chunk: Array<{ key: string | null; value: string; partition?: number; headers?: Record<string, string> }> = [];
    const flush = async () => {
      if (chunk.length === 0) return;
      await producer.send({ topic, acks: -1, messages: chunk });
      chunk = [];
    };
    for await (const r of recordsOf(resolved, options.cwd, resolved.partitions)) {
      chunk.push({
        key: r.key ?? null,
        value: typeof r.value === 'string' ? r.value : JSON.stringify(r.value),
        ...(r.partition === undefined ? {} : { partition: r.partition }),
        ...(r.headers ? { headers: { ...r.headers } } : {}),
      });
      count++;
      if (chunk.length >= 500) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  return { topic, records: count };
}
