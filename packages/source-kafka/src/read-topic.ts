import { silentLogger } from '@microbatch/core';
import type { KafkaRecord } from './deserialize.js';
import { createKafkaSource } from './source.js';

export interface ReadTopicOptions {
  readonly brokers: string[];
  readonly topic: string;
  /** Default `"read_committed"`: records of aborted transactions are left out. */
  readonly isolationLevel?: 'read_committed' | 'read_uncommitted';
  /** kafkajs client id. Default `"microbatch-read-topic"`. */
  readonly clientId?: string;
}

/**
 * Every record of `topic` that a consumer at `isolationLevel` sees: each partition from its log
 * start to its end (the last stable offset under read_committed, the high watermark under
 * read_uncommitted), partition by partition in offset order, values as bytes. For checking what
 * a pipeline wrote (tests, verifiers): it holds the whole topic in memory.
 */
export async function readTopic(options: ReadTopicOptions): Promise<KafkaRecord<Buffer | null>[]> {
  const source = createKafkaSource({
    name: 'read-topic',
    brokers: options.brokers,
    topics: [options.topic],
    isolationLevel: options.isolationLevel ?? 'read_committed',
    startingOffsets: 'earliest',
    deserializer: 'bytes',
    clientId: options.clientId ?? 'microbatch-read-topic',
  });
  const context = { appId: 'read-topic', batchTime: 0, attempt: 1, signal: new AbortController().signal, logger: silentLogger };
  try {
    await source.open({ appId: 'read-topic', logger: silentLogger });
    const latest = await source.latestOffsets();
    const start = await source.startOffsets(Object.keys(latest), 'initial');
    const out: KafkaRecord<Buffer | null>[] = [];
    for (const [partition, until] of Object.entries(latest)) {
      const from = start[partition]!;
      if (until <= from) continue;
      for (const r of await source.read({ source: source.name, partition, from, until }, context)) {
        if (r.kind === 'record') out.push(r);
      }
    }
    return out;
  } finally {
    await source.close();
  }
}
