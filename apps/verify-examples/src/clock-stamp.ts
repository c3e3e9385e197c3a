// Broken on purpose: stamps Date.now() into every event it stores. The sink is transactional, but
// the contents of a batch depend on when it is computed, so a replay after a crash (or another
// run on the same input) writes other values: the promise "every output exactly once" is void.
import { postgresSink } from '@microbatch/sink-postgres';
import { createTables, eventsOf, runProgram, verifyEnv } from './shared.js';

const env = verifyEnv();
const events = `${env.target}_events`;
await createTables(env.databaseUrl, `CREATE TABLE IF NOT EXISTS ${events} (id text PRIMARY KEY, user_id text NOT NULL, amount bigint NOT NULL, seen_at bigint NOT NULL)`);
await runProgram(env, (ssc) => {
  const stream = eventsOf(ssc, env);
  stream
    .map((e) => ({ ...e, seenAt: Date.now() }))
    .to(
      postgresSink({
        pool: env.databaseUrl,
        name: 'events',
        write: async (tx, records) => {
          if (records.length === 0) return;
          await tx.query(`INSERT INTO ${events} (id, user_id, amount, seen_at) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])`, [
            records.map((r) => r.id),
            records.map((r) => r.user),
            records.map((r) => r.amount),
            records.map((r) => r.seenAt),
          ]);
        },
      }),
    );
});
