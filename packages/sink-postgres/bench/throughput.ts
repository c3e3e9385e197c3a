// Rows/s into PostgreSQL for 1M rows of ~100 bytes: the transactional sink with COPY, with
// multi-row INSERT, and a plain COPY through pg-copy-streams with no markers as the baseline.
// Not a test: run it by hand (see README), numbers depend on the machine.
//   node --import tsx bench/throughput.ts [rows=1000000] [partitions=4] [batches=10] [rounds=3]
// Cases run interleaved, `rounds` times each; the median is reported (the machine is shared).
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Batch, silentLogger } from '@microbatch/core';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { appendRows, encodeCopyChunks, postgresSink } from '../src/index.js';

const [rowsArg, partitionsArg, batchesArg, roundsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg ?? 3);
const ROWS = Number(rowsArg ?? 1_000_000);
const PARTITIONS = Number(partitionsArg ?? 4);
const BATCHES = Number(batchesArg ?? 10);
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const table = `bench_${process.pid}`;
const prefix = `${table}_`;

type Row = { k: string; v: number; payload: string };
// k ~ 16 bytes, v 4 bytes, payload 80 bytes: ~100 bytes of data per row.
const rows: Row[] = Array.from({ length: ROWS }, (_, i) => ({ k: `key-${String(i).padStart(12, '0')}`, v: i, payload: `p${String(i).padStart(9, '0')}`.repeat(8) }));
const perBatch = Math.ceil(ROWS / BATCHES);
const batches = Array.from({ length: BATCHES }, (_, b) => {
  const slice = rows.slice(b * perBatch, (b + 1) * perBatch);
  const size = Math.ceil(slice.length / PARTITIONS);
  return Array.from({ length: PARTITIONS }, (_, p) => slice.slice(p * size, (p + 1) * size));
});

const pool = new pg.Pool({ connectionString: url, max: PARTITIONS + 2 });
pool.on('error', () => {});

async function reset(): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${table}, ${prefix}markers, ${prefix}fences, ${prefix}offsets`);
  await pool.query(`CREATE TABLE ${table} (k text NOT NULL, v integer NOT NULL, payload text NOT NULL)`);
  await pool.query('CHECKPOINT');
}

async function count(): Promise<number> {
  return Number((await pool.query(`SELECT count(*) FROM ${table}`)).rows[0].count);
}

async function plainCopy(part: readonly Row[] = rows): Promise<void> {
  const client = await pool.connect();
  try {
    const stream = client.query(copyStreams.from(`COPY ${table} (k, v, payload) FROM STDIN`));
    await pipeline(
      Readable.from(encodeCopyChunks(part, (r) => [r.k, r.v, r.payload])),
      stream,
    );
  } finally {
    client.release();
  }
}

async function throughSink(method: 'copy' | 'insert'): Promise<void> {
  const sink = postgresSink<Row>({
    pool,
    name: 'bench',
    tablePrefix: prefix,
    write: async (tx, records) => void (await appendRows(tx, records, { table, columns: ['k', 'v', 'payload'], method })),
  });
  for (let b = 0; b < batches.length; b++) {
    const time = (b + 1) * 1000;
    const context = { appId: 'bench', epoch: 1, batchTime: time, attempt: 1, outputName: 'bench', offsetRanges: [], signal: new AbortController().signal, logger: silentLogger };
    const batch = new Batch(time, batches[b]!.map((records) => ({ compute: async () => records, ranges: [] })), { concurrency: PARTITIONS });
    await sink.write(batch.bind(context), context);
  }
  await sink.close();
}

/** The sink's shape without the sink: the same partitions COPYed concurrently, no transaction, no marker. */
async function plainCopyPartitions(): Promise<void> {
  for (const partitions of batches) await Promise.all(partitions.map((part) => plainCopy(part)));
}

const cases: Array<[string, () => Promise<void>]> = [
  ['plain COPY (pg-copy-streams, one stream, no markers)', () => plainCopy()],
  [`plain COPY, same ${BATCHES} x ${PARTITIONS} concurrent chunks, no markers`, plainCopyPartitions],
  [`postgresSink + COPY (${BATCHES} batches x ${PARTITIONS} partitions)`, () => throughSink('copy')],
  [`postgresSink + multi-row INSERT (${BATCHES} batches x ${PARTITIONS} partitions)`, () => throughSink('insert')],
];

const samples = new Map<string, number[]>(cases.map(([name]) => [name, []]));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, run] of cases) {
      await reset();
      const start = process.hrtime.bigint();
      await run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const written = await count();
      if (written !== ROWS) throw new Error(`${name}: wrote ${written} rows, expected ${ROWS}`);
      samples.get(name)!.push(ROWS / seconds);
      console.log(`round ${round}: ${name}: ${Math.round(ROWS / seconds).toLocaleString('en-US')} rows/s (${seconds.toFixed(2)} s)`);
    }
  }
  const base = median(samples.get(cases[0]![0])!);
  console.log(`\nmedian of ${ROUNDS} rounds, ${ROWS.toLocaleString('en-US')} rows of ~100 bytes; ratio to the plain COPY baseline:`);
  for (const [name] of cases) {
    const m = median(samples.get(name)!);
    console.log(`  ${Math.round(m).toLocaleString('en-US').padStart(11)} rows/s  ${(m / base).toFixed(2)}x  ${name}`);
  }
} finally {
  await pool.query(`DROP TABLE IF EXISTS ${table}, ${prefix}markers, ${prefix}fences, ${prefix}offsets`);
  await pool.end();
}
