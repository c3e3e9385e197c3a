/**
 * One run of the pipeline, as a child process of the crash test (or by hand):
 *   node src/run.ts '<json options>'
 * Prints `batch <time> <records>` after each batch, and `done` after stopping gracefully once
 * `idleAfterBatches + 2` batches in a row found no input: enough for the idle rule to release the
 * watermark and close every window it can (docs/semantics.md §9).
 */
import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, createDefaultLogger } from '@microbatch/core';
import { fromPool } from '@microbatch/sink-postgres';
import pg from 'pg';
import type { PipelineShape } from './expected.js';
import { buildPipeline } from './pipeline.js';
import { TABLES_SQL } from './tables.js';

export interface RunOptions {
  readonly appId: string;
  readonly brokers: string[];
  readonly topic: string;
  readonly databaseUrl: string;
  readonly checkpointDir: string;
  readonly batchIntervalMs: number;
  readonly shape: PipelineShape;
}

export async function runPipeline(options: RunOptions, write: (line: string) => void): Promise<void> {
  const logger = createDefaultLogger({ app: options.appId });
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 8 });
  try {
    for (const sql of TABLES_SQL) await pool.query(sql);
    const ssc = new StreamingContext({
      appId: options.appId,
      batchIntervalMs: options.batchIntervalMs,
      checkpoint: createFsCheckpointStore({ dir: options.checkpointDir, logger }),
      maxRecordsPerPartition: options.shape.cap,
      maxRecordsPerBatch: Number.POSITIVE_INFINITY,
      // Snapshots often, so restarts restore open windows and the watermark from snapshots too.
      checkpointIntervalMs: options.batchIntervalMs * 3,
      logger,
    });
    buildPipeline(ssc, fromPool(pool, { logger }), options);
    let idle = 0;
    ssc.addListener({
      onBatchCompleted: (info) => {
        write(`batch ${info.batchTime} ${info.numRecords}`);
        idle = info.numRecords === 0 ? idle + 1 : 0;
        if (idle >= options.shape.idleAfterBatches + 2) void ssc.stop({ graceful: true });
      },
    });
    await ssc.start();
    await ssc.awaitTermination();
    write('done');
  } finally {
    await pool.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await runPipeline(JSON.parse(process.argv[2] ?? '{}') as RunOptions, (line) => console.log(line));
}
