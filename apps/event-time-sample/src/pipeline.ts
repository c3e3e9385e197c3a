import type { StreamingContext } from '@microbatch/core';
import { appendRows, postgresSink, type Database } from '@microbatch/sink-postgres';
import { createKafkaSource } from '@microbatch/source-kafka';
import type { PageEvent } from './generate.js';
import type { PipelineShape } from './expected.js';

export interface PipelineOptions {
  readonly brokers: string[];
  readonly topic: string;
  readonly shape: PipelineShape;
}

/**
 * Views per page per event-time minute: a watermark `delayMs` behind the newest event time, one
 * final row per (page, minute) once the watermark passes the minute's end, and late events in
 * their own table. Both outputs are transactional (one transaction per partition with its marker).
 */
export function buildPipeline(ssc: StreamingContext, db: Database, options: PipelineOptions) {
  const { shape } = options;
  const events = ssc
    .source(createKafkaSource({ name: 'page-events', brokers: options.brokers, topics: [options.topic], startingOffsets: 'earliest', deserializer: 'json' }))
    .map((r) => r.value as PageEvent);
  const minutes = events
    .withWatermark((e) => e.ts, { delayMs: shape.delayMs, idleAfterBatches: shape.idleAfterBatches })
    .map((e): [string, number] => [e.page, 1])
    .reduceByKeyAndEventWindow((a, b) => a + b, shape.windowMs, undefined, { name: 'views-per-minute', outputMode: 'final' });
  minutes.to(
    postgresSink({
      pool: db,
      name: 'window-counts',
      write: async (tx, windows, ctx) => {
        const rows = windows.map((w) => [w.key, w.start, w.end, w.value, ctx.batchTime]);
        if (rows.length > 0) await appendRows(tx, rows, { table: 'window_counts', columns: ['page', 'window_start', 'window_end', 'views', 'batch_time'] });
      },
    }),
  );
  minutes.late().to(
    postgresSink({
      pool: db,
      name: 'late-events',
      write: async (tx, late, ctx) => {
        const rows = late.flatMap((l) => (l.reason === 'late' ? [[l.record.id, l.record.page, l.eventTime, l.watermark, ctx.batchTime]] : []));
        if (rows.length > 0) await appendRows(tx, rows, { table: 'late_events', columns: ['event_id', 'page', 'ts', 'watermark', 'batch_time'] });
      },
    }),
  );
  return minutes;
}
