// A separate process upserting one big batch in chunks of 500 rows, so a test can SIGKILL it in
// the middle: after its third chunk committed it says `stalled` and waits to be killed, with the
// rest of the batch unwritten. Run with `node --import tsx`.
import { Batch, silentLogger } from '@microbatch/core';
import { fromPool } from '@microbatch/sink-postgres';
import pg from 'pg';
import { postgresUpsert, upsertSink } from '../src/index.js';
import { CHILD_CHUNKS_BEFORE_KILL, CHILD_CHUNK_SIZE, bigBatch } from './big-batch.js';
import { afterChunkCommits } from './support.js';

const [url, table, appId] = process.argv.slice(2) as [string, string, string];
const pool = new pg.Pool({ connectionString: url });
const db = afterChunkCommits(fromPool(pool), async (chunks) => {
  if (chunks < CHILD_CHUNKS_BEFORE_KILL) return;
  process.stdout.write('stalled\n');
  await new Promise(() => setInterval(() => {}, 1 << 30));
});
const sink = upsertSink({ name: 'totals', target: postgresUpsert({ pool: db, table, keys: ['key'], columns: ['key', 'total'], chunkSize: CHILD_CHUNK_SIZE, concurrency: 1 }) });
const context = { appId, epoch: 1, batchTime: 1000, attempt: 1, outputName: 'totals', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
await sink.write(Batch.fromPartitions(1000, bigBatch()).bind(context), context);
process.stdout.write('finished\n'); // never: the test fails if the batch was not cut short
