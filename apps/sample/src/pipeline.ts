import type { DStream, Source, StreamingContext } from '@microbatch/core';
import { createKafkaSource } from '@microbatch/source-kafka';
import { createGeneratorSource } from '@microbatch/source-memory';
import { appendRows, postgresSink, type Database, type SqlTransaction } from '@microbatch/sink-postgres';
import { postgresUpsert, upsertSink } from '@microbatch/sink-upsert';
import { classify, parseJson, type Classified, type PageEvent } from './events.js';
import { rawRecord, recordsInPartition, type Shape } from './generate.js';
import { classifiedSource, type BatchRejections } from './rejections.js';

export type InputSpec = { readonly kind: 'memory'; readonly shape: Shape } | { readonly kind: 'kafka'; readonly brokers: string[]; readonly topic: string };

/** Text columns cannot hold NUL; a rejected record's raw text keeps everything else. */
const storable = (text: string) => text.replaceAll('\u0000', '\uFFFD');

/**
 * The input as classified records: valid events, or rejections with their reason and raw text.
 * Given `rejections`, they are counted per batch there (one log line per batch, metrics).
 */
export function inputStream(ssc: StreamingContext, input: InputSpec, rejections?: BatchRejections): DStream<Classified> {
  if (input.kind === 'memory') {
    const { shape } = input;
    const source: Source<{ partition: number; offset: number; raw: string }> = createGeneratorSource({
      name: 'generator',
      partitions: shape.partitions,
      recordsPerPartition: (p) => recordsInPartition(shape, p),
      seed: shape.seed,
      generate: ({ partition, offset }) => ({ partition, offset, raw: rawRecord(shape, partition, offset) }),
    });
    return ssc.source(classifiedSource(source, (r) => classify(r.partition, r.offset, r.raw, parseJson(r.raw)), rejections?.hooks));
  }
  const kafka = createKafkaSource({
    name: 'kafka',
    brokers: input.brokers,
    topics: [input.topic],
    startingOffsets: 'earliest',
    // Never throws: text that is not JSON is classified (INVALID_JSON) like every other malformed
    // record and counted per batch, instead of taking the source's dead-letter path, which logs a
    // warning per record. Classified as it is deserialized, so a valid event keeps only its parsed
    // value (the raw text dies at once); a rejected one keeps its raw text for events_rejected.
    deserializer: (value: Buffer | null, record) => {
      const raw = value?.toString('utf8') ?? '';
      return classify(record.partition, record.offset, raw, parseJson(raw));
    },
  });
  return ssc.source(classifiedSource(kafka, (r) => r.value, rejections?.hooks));
}

/** Hooks for the crash test: where a kill should land. */
export interface PipelineHooks {
  insideOutputTransaction?: (batchTime: number, partitionId: number) => Promise<void>;
}

/**
 * The four outputs. events_raw, page_views and events_rejected are written by one transactional
 * sink (one transaction per partition with its commit marker); user_totals holds running totals
 * kept by updateStateByKey, written as absolute values by the idempotent upsert sink.
 */
export function buildPipeline(classified: DStream<Classified>, db: Database, hooks: PipelineHooks = {}): void {
  classified.to(
    postgresSink<Classified>({
      pool: db,
      name: 'events',
      write: async (tx, records, ctx) => {
        await hooks.insideOutputTransaction?.(ctx.batchTime, ctx.partitionId);
        await writeEvents(tx, records);
      },
    }),
  );

  userTotals(classified, db);
}

/** A user_totals row: the user's running totals after the batch at `batch_time`, absolute values. */
export interface UserTotalRow {
  readonly user_id: string;
  readonly events: number;
  readonly amount: number;
  readonly batch_time: number;
}

/** Running totals per user kept by updateStateByKey, one row per user per batch. */
export function userTotalRows(classified: DStream<Classified>): DStream<UserTotalRow> {
  return classified
    .flatMap((c) => (c.kind === 'event' ? [c.event] : []))
    .map((e: PageEvent): [string, [number, number]] => [e.user, [1, e.amount]])
    .updateStateByKey<string, [number, number], [number, number]>(
      (values, total) => values.reduce(([n, a], [dn, da]) => [n + dn, a + da], total ?? [0, 0]),
      { name: 'user-totals' },
    )
    .transform((batch, batchTime) => batch.map(([user_id, [events, amount]]) => ({ user_id, events, amount, batch_time: batchTime })));
}

/** user_totals: running totals per user kept by updateStateByKey, written as absolute values by the idempotent upsert sink. */
export function userTotals(classified: DStream<Classified>, db: Database): void {
  userTotalRows(classified).to(
    upsertSink({
      name: 'user-totals',
      target: postgresUpsert({
        pool: db,
        table: 'user_totals',
        keys: ['user_id'],
        columns: ['user_id', 'events', 'amount', 'batch_time'],
        // A stalled older process can never overwrite newer totals.
        onlyIfNotOlder: 'batch_time',
      }),
    }),
  );
}

/** Writes one partition's events, rejections and page-view increments in the given transaction. */
export async function writeEvents(tx: SqlTransaction, records: readonly Classified[]): Promise<void> {
  const events: unknown[][] = [];
  const rejected: unknown[][] = [];
  const views = new Map<string, { page: string; minute: number; n: number }>();
  for (const c of records) {
    if (c.kind === 'rejected') {
      rejected.push([c.partition, c.offset, c.reason, storable(c.raw)]);
      continue;
    }
    const e = c.event;
    events.push([e.id, e.user, e.page, e.amount, e.ts, c.partition, c.offset]);
    const minute = Math.floor(e.ts / 60_000);
    const key = `${e.page}\u0000${minute}`;
    const v = views.get(key);
    if (v) v.n++;
    else views.set(key, { page: e.page, minute, n: 1 });
  }
  if (events.length > 0) {
    await appendRows(tx, events, { table: 'events_raw', columns: ['event_id', 'user_id', 'page', 'amount', 'ts', 'source_partition', 'source_offset'] });
  }
  if (rejected.length > 0) {
    await appendRows(tx, rejected, { table: 'events_rejected', columns: ['source_partition', 'source_offset', 'reason', 'raw'] });
  }
  if (views.size > 0) {
    // Sorted, so concurrent partitions lock page_views rows in the same order and cannot deadlock.
    const rows = [...views.values()].sort((a, b) => (a.page < b.page ? -1 : a.page > b.page ? 1 : a.minute - b.minute));
    await tx.query(
      `INSERT INTO page_views (page, minute, views)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
       ON CONFLICT (page, minute) DO UPDATE SET views = page_views.views + EXCLUDED.views`,
      [rows.map((r) => r.page), rows.map((r) => r.minute), rows.map((r) => r.n)],
      // The same text every batch: parsed and planned once per connection.
      { prepare: true },
    );
  }
}
