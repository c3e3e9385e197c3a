import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A new database on the shared (or given) PostgreSQL server, dropped by `drop()`. */
export async function freshDatabase(serverUrl = process.env.DATABASE_URL!): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `sample_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
