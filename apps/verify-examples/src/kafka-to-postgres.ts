// The correct app: Kafka -> PostgreSQL, exactly once. Every event lands once in <target>_events
// (a transactional sink: rows and commit marker in one transaction per partition), and running
// totals per user, kept by updateStateByKey, are upserted as absolute values into <target>_totals.
import { postgresSink } from '@microbatch/sink-postgres';
import { postgresUpsert, upsertSink } from '@microbatch/sink-upsert';
import { createTables, eventsOf, runProgram, verifyEnv } from './shared.js';

const env = verifyEnv();
const events = `${env.target}_events`;
const totals = `${env.target}_totals`;
await createTables(
  env.databaseUrl,
  `CREATE TABLE IF NOT EXISTS ${events} (id text PRIMARY KEY, user_id text NOT NULL, amount bigint NOT NULL);
   CREATE TABLE IF NOT EXISTS ${totals} (user_id text PRIMARY KEY, events bigint NOT NULL, amount bigint NOT NULL, batch_time bigint NOT NULL);`,
);
await runProgram(env, (ssc) => {
  const stream = eventsOf(ssc, env);
  stream.to(
    postgresSink({
      pool: env.databaseUrl,
      name: 'events',
      write: async (tx, records) => {
        if (records.length === 0) return;
        await tx.query(`INSERT INTO ${events} (id, user_id, amount) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])`, [
          records.map((r) => r.id),
          records.map((r) => r.user),
          records.map((r) => r.amount),
        ]);
      },
    }),
  );
  stream
    .map((e): [string, [number, number]] => [e.user, [1, e.amount]])
    .updateStateByKey<string, [number, number], [number, number]>((values, total) => values.reduce(([n, a], [dn, da]) => [n + dn, a + da], total ?? [0, 0]), { name: 'totals' })
    .transform((batch, batchTime) => batch.map(([user_id, [n, amount]]) => ({ user_id, events: n, amount, batch_time: batchTime })))
    .to(upsertSink({ name: 'totals', target: postgresUpsert({ pool: env.databaseUrl, table: totals, keys: ['user_id'], columns: ['user_id', 'events', 'amount', 'batch_time'], onlyIfNotOlder: 'batch_time' }) }));
});
