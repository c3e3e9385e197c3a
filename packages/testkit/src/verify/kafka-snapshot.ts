import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError, silentLogger } from '@microbatch/core';
import { optionalImport } from './optional-import.js';
import type { Row } from './diff.js';
import type { RunInfo } from './options.js';
import { withTarget } from './snapshots.js';

/** The part of @microbatch/source-kafka the snapshot reads with (an optional peer dependency). */
interface SourceKafkaModule {
  createKafkaSource(options: Record<string, unknown>): {
    open(context: { appId: string; logger: typeof silentLogger }): Promise<void>;
    latestOffsets(): Promise<Record<string, number>>;
    startOffsets(partitions: string[], which: 'initial'): Promise<Record<string, number>>;
    read(range: { source: string; partition: string; from: number; until: number }, context: Record<string, unknown>): Promise<unknown[]>;
    close(): Promise<void>;
  };
}

interface SnapshotRecord {
  readonly kind: string;
  readonly partition: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, unknown>;
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
    const { createKafkaSource } = await optionalImport<SourceKafkaModule>('@microbatch/source-kafka', 'kafkaSnapshot');
    const source = (isolationLevel: 'read_committed' | 'read_uncommitted') =>
      createKafkaSource({ name: 'snapshot', brokers: [...options.brokers], topics: [topic], isolationLevel, startingOffsets: 'earliest', deserializer: 'bytes', clientId: 'microbatch-verify-snapshot' });
    const committed = source('read_committed');
    const uncommitted = source('read_uncommitted');
    const context = { appId: 'microbatch-verify-snapshot', logger: silentLogger };
    try {
      await Promise.all([committed.open(context), uncommitted.open(context)]);
      const ends = await settledEnds(committed, uncommitted, settleTimeoutMs, topic);
      const starts = await committed.startOffsets(Object.keys(ends), 'initial');
      const rows: Row[] = [];
      for (const [partition, until] of Object.entries(ends)) {
        const from = starts[partition]!;
        if (until <= from) continue;
        const records = (await committed.read(
          { source: 'snapshot', partition, from, until },
          { appId: context.appId, batchTime: 0, attempt: 1, signal: new AbortController().signal, logger: silentLogger },
        )) as SnapshotRecord[];
        for (const r of records) {
          if (r.kind !== 'record') continue;
          rows.push({
            partition: r.partition,
            key: r.key?.toString('utf8') ?? null,
            value: r.value?.toString('utf8') ?? null,
            headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, v === undefined || v === null ? null : String(v)])),
          });
        }
      }
      return rows;
    } finally {
      await Promise.all([committed.close(), uncommitted.close()]);
    }
  };
}

/** Each partition's last stable offset, once it reached the high watermark (no transaction open). */
async function settledEnds(committed: ReturnType<SourceKafkaModule['createKafkaSource']>, uncommitted: ReturnType<SourceKafkaModule['createKafkaSource']>, timeoutMs: number, topic: string): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [stable, high] = await Promise.all([committed.latestOffsets(), uncommitted.latestOffsets()]);
    const open = Object.keys(high).find((p) => (stable[p] ?? 0) < high[p]!);
    if (open === undefined) return stable;
    if (Date.now() >= deadline) {
      throw new MicrobatchError(
        'SOURCE_FAILED',
        `kafkaSnapshot: a transaction is still open in ${open} after ${timeoutMs} ms (last stable offset ${stable[open]}, high watermark ${high[open]}): the records after it cannot be read yet`,
        { details: { topic, partition: open, lastStableOffset: stable[open], highWatermark: high[open] } },
      );
    }
    await sleep(100);
  }
}
