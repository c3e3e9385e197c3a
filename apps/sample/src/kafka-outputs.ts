import type { DStream } from '@microbatch/core';
import { createKafkaSink } from '@microbatch/sink-kafka';
import { fixKafkajs } from '@microbatch/source-kafka';
import { Kafka, logLevel, type Producer, type Transaction } from 'kafkajs';
import type { Classified } from './events.js';
import { userTotalRows, type PipelineHooks } from './pipeline.js';
import type { KafkaSinkSpec } from './uris.js';

/** The four outputs as topics, and the progress topic of their sinks. */
export interface OutputTopics {
  readonly eventsRaw: string;
  readonly eventsRejected: string;
  readonly pageViews: string;
  readonly userTotals: string;
  readonly progress: string;
}

export function outputTopics(prefix: string): OutputTopics {
  return {
    eventsRaw: `${prefix}.events_raw`,
    eventsRejected: `${prefix}.events_rejected`,
    pageViews: `${prefix}.page_views`,
    userTotals: `${prefix}.user_totals`,
    progress: `${prefix}.progress`,
  };
}

/** A record of the `events` sink, for one of its three topics. */
export interface TopicRecord {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly batchTime: number;
}

/**
 * One partition's records as the `events` sink writes them, the same rows the Postgres sink
 * writes: every event (keyed by its id), every rejection (keyed by its source position), and a
 * page-view delta per (page, minute) of the partition's events. A delta is only exact when the
 * sink is: a replay that wrote them twice would double the views.
 */
export function eventRecords(topics: OutputTopics, records: readonly Classified[], batchTime: number): TopicRecord[] {
  const out: TopicRecord[] = [];
  const views = new Map<string, { page: string; minute: number; views: number }>();
  for (const c of records) {
    if (c.kind === 'rejected') {
      const value = { source_partition: c.partition, source_offset: c.offset, reason: c.reason, raw: c.raw };
      out.push({ topic: topics.eventsRejected, key: `${c.partition}|${c.offset}`, value: JSON.stringify(value), batchTime });
      continue;
    }
    const e = c.event;
    const row = { event_id: e.id, user_id: e.user, page: e.page, amount: e.amount, ts: e.ts, source_partition: c.partition, source_offset: c.offset };
    out.push({ topic: topics.eventsRaw, key: e.id, value: JSON.stringify(row), batchTime });
    const minute = Math.floor(e.ts / 60_000);
    const key = JSON.stringify([e.page, minute]);
    const v = views.get(key);
    if (v) v.views++;
    else views.set(key, { page: e.page, minute, views: 1 });
  }
  for (const [key, delta] of views) out.push({ topic: topics.pageViews, key, value: JSON.stringify(delta), batchTime });
  return out;
}

/**
 * The four outputs to Kafka, each exactly once for read_committed consumers: events_raw,
 * events_rejected and page_views by one transactional sink (one transaction per batch over the
 * three topics, with its progress record), user_totals (absolute running totals from
 * updateStateByKey, keyed by user, so the last record of a key is its total) by another.
 */
export function buildKafkaPipeline(classified: DStream<Classified>, spec: KafkaSinkSpec, hooks: PipelineHooks = {}): void {
  const topics = outputTopics(spec.prefix);
  let writing = 0;
  const onSend = hooks.insideOutputTransaction;
  const kafka = onSend ? tracingKafka(spec.brokers, topics.progress, () => onSend(writing, 0)) : undefined;
  const common = { brokers: spec.brokers, progressTopic: topics.progress, ...(kafka ? { kafka } : {}) };
  classified
    .transform((batch, batchTime) => batch.mapPartitions((records) => eventRecords(topics, records, batchTime)))
    .to(
      createKafkaSink<TopicRecord>({
        ...common,
        name: 'events',
        topic: (r) => {
          // The sink serializes a batch whole before its transaction: this is that batch (for the trace line).
          writing = r.batchTime;
          return r.topic;
        },
        key: (r) => r.key,
        value: (r) => r.value,
      }),
    );
  userTotalRows(classified).to(
    createKafkaSink({
      ...common,
      name: 'user-totals',
      topic: topics.userTotals,
      key: (r) => r.user_id,
      value: (r) => JSON.stringify(r),
    }),
  );
}

/**
 * For the crash test: a kafkajs client whose transactions call `onFirstSend` once their first
 * output records are sent, so a kill aimed at the output phase lands inside an open Kafka
 * transaction that holds records (which read_committed consumers must never see).
 */
function tracingKafka(brokers: string[], progressTopic: string, onFirstSend: () => Promise<void>): Kafka {
  fixKafkajs();
  // The sink turns kafkajs failures into its typed errors; its own log lines are not needed here.
  const kafka = new Kafka({ clientId: 'microbatch-sample', brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer.bind(kafka);
  kafka.producer = (config) => {
    const p: Producer = producer(config);
    const transaction = p.transaction.bind(p);
    p.transaction = async () => {
      const tx: Transaction = await transaction();
      const sendBatch = tx.sendBatch.bind(tx);
      let sent = false;
      return Object.assign(tx, {
        async sendBatch(batch: Parameters<Transaction['sendBatch']>[0]) {
          const result = await sendBatch(batch);
          if (!sent && (batch.topicMessages ?? []).some((t) => t.topic !== progressTopic)) {
            sent = true;
            await onFirstSend();
          }
          return result;
        },
      });
    };
    return p;
  };
  return kafka;
}
