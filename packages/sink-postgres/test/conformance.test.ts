import { PGlite } from '@electric-sql/pglite';
import { sinkSuite } from '@microbatch/testkit';
import { afterAll, describe, it } from 'vitest';
import { appendRows, postgresSink, quoteIdent } from '../src/index.js';
import { createEventsTable, createPool, dropAll } from './support/db.js';

type Event = { k: string; v: number; payload: string };

const pool = createPool();
const pglite = new PGlite();
afterAll(async () => {
  await pool.end();
  await pglite.close();
});

const record = (batchTime: number, partitionId: number, index: number): Event => ({
  k: `${batchTime}/${partitionId}/${index}`,
  v: index,
  // Characters COPY text format must escape, so the suite also proves the encoding.
  payload: `tab\there\nnew line \\ back ${'é'.repeat(index % 3)}`,
});

/** Each target is a fresh events table with its own bookkeeping tables (prefix = target name). */
function suite(name: string, db: { query(text: string): Promise<{ rows: unknown[] }> }, client: Parameters<typeof postgresSink>[0]['pool'], extra: { granularity?: 'partition' | 'batch'; method?: 'copy' | 'insert' }) {
  const created = new Set<string>();
  sinkSuite<Event>({
    describe,
    it,
    name,
    guarantee: 'transactional',
    async createSink(target) {
      if (!created.has(target)) {
        created.add(target);
        await createEventsTable(db, target);
      }
      return postgresSink<Event>({
        pool: client,
        name: 'events-out',
        tablePrefix: `${target}_`,
        granularity: extra.granularity,
        storeOffsets: true,
        write: async (tx, records) => {
          await appendRows(tx, records, { table: target, columns: ['k', 'v', 'payload'], method: extra.method });
        },
      });
    },
    async readBack(target) {
      return (await db.query(`SELECT k, v, payload FROM ${quoteIdent(target)} ORDER BY k, v, payload`)).rows;
    },
    record,
    async cleanup(target) {
      if (created.delete(target)) await dropAll(db, `${target}_`, target);
    },
  });
}

suite('postgres, per partition, COPY', pool, pool, { granularity: 'partition', method: 'copy' });
suite('postgres, per batch, multi-row INSERT', pool, pool, { granularity: 'batch', method: 'insert' });
suite('pglite, per partition, COPY', pglite, pglite, { granularity: 'partition', method: 'copy' });
