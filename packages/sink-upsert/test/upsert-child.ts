// A separate process upserting one big batch in many small statements, so a test can SIGKILL it
// in the middle. Run with `node --import tsx`.
import { Batch, silentLogger } from '@microbatch/core';
import pg from 'pg';
import { postgresUpsert, upsertSink } from '../src/index.js';
import { bigBatch } from './big-batch.js';

const [url, table] = process.argv.slice(2) as [string, string];
const pool = new pg.Pool({ connectionString: url });
const sink = upsertSink({ name: 'totals', target: postgresUpsert({ pool, table, keys: ['key'], columns: ['key', 'total'], chunkSize: 500, concurrency: 1 }) });
const context = { appId: 'crash', epoch: 1, batchTime: 1000, attempt: 1, outputName: 'totals', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
process.stdout.write('writing\n');
for (;;) await sink.write(Batch.fromPartitions(1000, bigBatch()).bind(context), context); // until killed
