// A separate process writing one batch through postgresSink, so a test can SIGKILL it between
// the data write and COMMIT. Run with `node --import tsx`.
import { Batch, silentLogger } from '@microbatch/core';
import pg from 'pg';
import { appendRows, postgresSink } from '../../src/index.js';

const [url, table, prefix, appId, batchTime] = process.argv.slice(2) as [string, string, string, string, string];
const say = (line: string) => process.stdout.write(`${line}\n`);

const pool = new pg.Pool({ connectionString: url });
const sink = postgresSink<{ k: string; v: number }>({
  pool,
  name: 'events-out',
  tablePrefix: prefix,
  storeOffsets: true,
  async write(tx, records, ctx) {
    await appendRows(tx, records, { table, columns: ['k', 'v'] });
    // The rows and the marker are written, the transaction is open: the parent kills us now.
    say(`written ${ctx.partitionId}`);
    await new Promise(() => setInterval(() => {}, 1 << 30));
  },
});
const context = {
  appId,
  epoch: 1,
  batchTime: Number(batchTime),
  attempt: 1,
  outputName: sink.name,
  offsetRanges: [],
  signal: new AbortController().signal,
  logger: silentLogger,
};
await sink.open({ appId, epoch: 1, logger: silentLogger });
say('open');
const rows = Array.from({ length: 500 }, (_, i) => ({ k: `k${i}`, v: i }));
await sink.write(Batch.fromPartitions(Number(batchTime), [rows], [[{ source: 's', partition: '0', from: 0, until: 500 }]]).bind(context), context);
