import { freshPostgresDatabase } from '@microbatch/testkit';

/** A new database on the shared (or given) PostgreSQL server, dropped by `drop()`. */
export function freshDatabase(serverUrl = process.env.DATABASE_URL!): Promise<{ url: string; drop(): Promise<void> }> {
  return freshPostgresDatabase(serverUrl, 'sample');
}
