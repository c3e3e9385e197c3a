// Broken on purpose: a foreachBatch that appends every batch's events to a table with plain
// INSERTs, no key and no commit marker. A batch replayed after a crash is appended again.
import pg from 'pg';
import { createTables, eventsOf, runProgram, verifyEnv } from './shared.js';

const env = verifyEnv();
const events = `${env.target}_events`;
await createTables(env.databaseUrl, `CREATE TABLE IF NOT EXISTS ${events} (id text NOT NULL, user_id text NOT NULL, amount bigint NOT NULL)`);
const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
await runProgram(env, (ssc) => {
  const stream = eventsOf(ssc, env);
  stream.foreachBatch(
    async (batch) => {
      const records = await batch.collect();
      if (records.length === 0) return;
      await pool.query(`INSERT INTO ${events} (id, user_id, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])`, [
        records.map((r) => r.id),
        records.map((r) => r.user),
        records.map((r) => r.amount),
      ]);
    },
    { name: 'append-events' },
  );
});
await pool.end();
