import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, silentLogger } from '@microbatch/core';
import { optionalImport } from './optional-import.js';
import type { Row } from './diff.js';
import type { RunInfo } from './options.js';
import { withTarget } from './snapshots.js';

type Source = {
  open(context: { appId: string; logger: typeof silentLogger }): Promise<void>;
  latestOffsets(): Promise<Record<string, number>>;
  close(): Promise<void>;
};

/** The part of @microbatch/source-kafka the snapshot uses (an optional peer dependency). */
interface SourceKafkaModule {
  createKafkaSource(options: Record<string, unknown>): Source;
  readTopic(options: { brokers: string[]; topic: string; clientId: string }): Promise<
    Array<{ partition: number; key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }>
  >;
}

/**
 * A snapshot step: every record of a topic (with `{target}`), read with `read_committed` through
 * @microbatch/source-kafka (which corrects kafkajs' aborted-record filter), so records of aborted
 * transactions are left out, as a consumer of your output would see them. One row per record:
 * `{ partition, key, value, headers }` (text), without offsets, which aborted transactions and
 * their markers shift. Each partition is read from its log start to its last stable offset. A
 * transaction still open would hide every record after it, so the snapshot waits up to
 * `settleTimeoutMs` (default 30000) for the last stable offset of every partition to reach its
 * high watermark, and fails (SOURCE_FAILED) naming the partition if it does not.
 */
export function kafkaSnapshot(options: { brokers: readonly string[]; topic: string; settleTimeoutMs?: number }): (run: RunInfo) => Promise<Row[]> {
  if (!Array.isArray(options.brokers) || options.brokers.length === 0) {
    throw new MicrobatchError('INVALID_OPTION', 'kafkaSnapshot: brokers must be a list of host:port', { cause: new TypeError(String(options.brokers)) });
  }
  if (typeof options.topic !== 'string' || options.topic === '') throw new MicrobatchError('INVALID_OPTION', 'kafkaSnapshot: topic must be a topic name', { cause: new TypeError(String(options.topic)) });
  const settleTimeoutMs = options.settleTimeoutMs ?? 30_000;
  if (!Number.isInteger(settleTimeoutMs) || settleTimeoutMs < 0) {
    throw new MicrobatchError('INVALID_OPTION', `kafkaSnapshot: settleTimeoutMs must be a non-negative integer (got ${String(settleTimeoutMs)})`, { cause: new TypeError(String(settleTimeoutMs)) });
  }
  return async (run) => {
    const topic = withTarget(options.topic, run);
    const kafka = await optionalImport<SourceKafkaModule>('@microbatch/source-kafka', 'kafkaSnapshot');
    await settled(kafka, [...options.brokers], topic, settleTimeoutMs);
    const records = await kafka.readTopic({ brokers: [...options.brokers], topic, clientId: 'microbatch-verify-snapshot' });
    return records.map((r) => ({
      partition: r.partition,
      key: r.key?.toString('utf8') ?? null,
      value: r.value?.toString('utf8') ?? null,
      headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v === undefined || v === null ? null : String(v)])),
    }));
  };
}

/** Waits until no transaction is open in `topic`: every partition's last stable offset reached its high watermark. */
async function settled(kafka: SourceKafkaModule, brokers: string[], topic: string, timeoutMs: number): Promise<void> {
  const source = (isolationLevel: 'read_committed' | 'read_uncommitted') =>
    kafka.createKafkaSource({ name: 'snapshot', brokers, topics: [topic], isolationLevel, deserializer: 'bytes', clientId: 'microbatch-verify-snapshot' });
  const committed = source('read_committed');
  const uncommitted = source('read_uncommitted');
  const context = { appId: 'microbatch-verify-snapshot', logger: silentLogger };
  try {
    await Promise.all([committed.open(context), uncommitted.open(context)]);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [stable, high] = await Promise.all([committed.latestOffsets(), uncommitted.latestOffsets()]);
      const open = Object.keys(high).find((p) => (stable[p] ?? 0) < high[p]!);
      if (open === undefined) return;
      if (Date.now() >= deadline) {
        throw new MicrobatchError(
          'SOURCE_FAILED',
          `kafkaSnapshot: a transaction is still open in ${open} after ${timeoutMs} ms (last stable offset ${stable[open]}, high watermark ${high[open]}): the records after it cannot be read yet`,
          { details: { topic, partition: open, lastStableOffset: stable[open], highWatermark: high[open] } },
        );
      }
      await sleep(100);
    }
  } finally {
    await Promise.all([committed.close(), uncommitted.close()]);
  }
}
