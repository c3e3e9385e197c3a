import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, type Logger } from '@microbatch/core';
import { createGeneratorSource } from '@microbatch/source-memory';

export interface DemoOptions {
  /** Where checkpoints go. */
  checkpointDir: string;
  events: number;
  partitions: number;
  batchIntervalMs: number;
  logger?: Logger;
  write: (line: string) => void;
}

// Weighted like real traffic: the home page far ahead, the signup page rare.
const pages = ['/home', '/home', '/home', '/home', '/docs', '/docs', '/docs', '/pricing', '/pricing', '/blog', '/about', '/signup'];

/** View i of partition p: a deterministic page, so every run (and every replay) sees the same data. */
export function pageOf(partition: number, offset: number): string {
  return pages[(partition * 7919 + offset * offset * 31 + offset * 104729) % pages.length]!;
}

/**
 * Generated page views -> count per page per batch -> running totals printed per batch. The
 * totals live in the checkpointed plan, not in memory: after a kill, the rerun batches
 * recount exactly the same views.
 */
export async function runDemo(options: DemoOptions): Promise<Map<string, number>> {
  const perPartition = Math.ceil(options.events / options.partitions);
  const ssc = new StreamingContext({
    appId: 'demo',
    batchIntervalMs: options.batchIntervalMs,
    checkpoint: createFsCheckpointStore({ dir: options.checkpointDir }),
    maxRecordsPerPartition: Math.max(1, Math.ceil(perPartition / 5)),
    stopWhenIdle: true,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const totals = new Map<string, number>();
  ssc
    .source(createGeneratorSource({ name: 'page-views', partitions: options.partitions, recordsPerPartition: perPartition, generate: ({ partition, offset }) => pageOf(partition, offset) }))
    .map((page): [string, number] => [page, 1])
    .reduceByKey((a, b) => a + b)
    .foreachBatch(
      async (batch, ctx) => {
        const counts = await batch.collect();
        const records = counts.reduce((n, [, c]) => n + c, 0);
        for (const [page, count] of counts) totals.set(page, (totals.get(page) ?? 0) + count);
        options.write(`batch ${new Date(ctx.batchTime).toISOString()}  ${String(records).padStart(6)} views  epoch ${ctx.epoch}`);
      },
      { name: 'page-counts' },
    );
  await ssc.start();
  await ssc.awaitTermination();
  return totals;
}
