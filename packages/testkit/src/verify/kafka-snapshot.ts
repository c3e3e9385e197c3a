import { randomBytes } from 'node:crypto';
import { MicrobatchError } from '@microbatch/core';
import { optionalImport } from './optional-import.js';
import type { Row } from './diff.js';
import type { RunInfo } from './options.js';
import { withTarget } from './snapshots.js';

interface KafkaModule {
  Kafka: new (config: { clientId: string; brokers: string[]; logLevel: number }) => {
    admin(): { connect(): Promise<void>; fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; high: string; low: string }>>; disconnect(): Promise<void> };
    consumer(o: { groupId: string; readUncommitted: boolean }): {
      connect(): Promise<void>;
      subscribe(o: { topic: string; fromBeginning: boolean }): Promise<void>;
      run(o: { eachBatch: (p: { batch: { partition: number; messages: Array<{ offset: string; key: Buffer | null; value: Buffer | null; headers?: Record<string, Buffer | string | undefined> }> } }) => Promise<void> }): Promise<void>;
      disconnect(): Promise<void>;
    };
  };
}

/**
 * A snapshot step: every record of a topic (with `{target}`), read with `read_committed`, so
 * records of aborted transactions are left out, as a consumer of your output would see it. One
 * row per record: `{ partition, key, value, headers }` (text), without offsets, which aborted
 * transactions and their markers shift. Reading ends once every partition is read to its high
 * watermark, or after `idleMs` (default 3000) without a new record (a partition whose end is a
 * transaction marker never delivers its last offset).
 */
export function kafkaSnapshot(options: { brokers: readonly string[]; topic: string; idleMs?: number }): (run: RunInfo) => Promise<Row[]> {
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new MicrobatchError('INVALID_OPTION', 'kafkaSnapshot: brokers must be a list of host:port', { cause: new TypeError(String(options.brokers)) });
  }
  if (typeof options.topic !== 'string' || options.topic === '') throw new MicrobatchError('INVALID_OPTION', 'kafkaSnapshot: topic must be a topic name', { cause: new TypeError(String(options.topic)) });
  const idleMs = options.idleMs ?? 3000;
  return async (run) => {
    const topic = withTarget(options.topic, run);
    const kafkajs = await optionalImport<KafkaModule>('kafkajs', 'kafkaSnapshot');
    const kafka = new kafkajs.Kafka({ clientId: 'microbatch-verify-snapshot', brokers: [...options.brokers], logLevel: 0 });
    const admin = kafka.admin();
    await admin.connect();
    const ends = new Map((await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect())).map((p) => [p.partition, Number(p.high)]));
    const remaining = new Set([...ends].filter(([, high]) => high > 0).map(([p]) => p));
    const rows: Row[] = [];
    if (remaining.size === 0) return rows;
    const consumer = kafka.consumer({ groupId: `microbatch-verify-snapshot-${randomBytes(6).toString('hex')}`, readUncommitted: false });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let lastRecord = Date.now();
      let done!: () => void;
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) {
            rows.push({
              partition: batch.partition,
              key: m.key?.toString('utf8') ?? null,
              value: m.value?.toString('utf8') ?? null,
              headers: Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, v?.toString() ?? null])),
            });
            lastRecord = Date.now();
            if (Number(m.offset) + 1 >= ends.get(batch.partition)!) remaining.delete(batch.partition);
          }
          if (remaining.size === 0) done();
        },
      });
      const idle = setInterval(() => Date.now() - lastRecord > idleMs && done(), 100);
      await finished;
      clearInterval(idle);
    } finally {
      await consumer.disconnect();
    }
    return rows;
  };
}
