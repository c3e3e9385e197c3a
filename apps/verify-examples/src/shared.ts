import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, type DStream } from '@microbatch/core';
import { createKafkaSource } from '@microbatch/source-kafka';
import pg from 'pg';

/** An input event, as the generator and the input files hold it. */
export interface Event {
  readonly id: string;
  readonly user: string;
  readonly amount: number;
}

/** What microbatch-verify hands every run: its target name, a fresh directory, the input topic. */
export function verifyEnv(): { target: string; dir: string; topic: string; brokers: string; databaseUrl: string } {
  const need = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set: run this app under microbatch-verify (with DATABASE_URL and KAFKA_BROKERS)`);
    return value;
  };
  return { target: need('MICROBATCH_VERIFY_TARGET'), dir: need('MICROBATCH_VERIFY_DIR'), topic: need('MICROBATCH_VERIFY_TOPIC'), brokers: need('KAFKA_BROKERS'), databaseUrl: need('DATABASE_URL') };
}

/**
 * A context over the run's own checkpoint directory and app id, reading the input topic: small
 * batches (10 records per partition) so a run has dozens of batches for the kills to land in.
 */
export function eventsContext(env: ReturnType<typeof verifyEnv>): { ssc: StreamingContext; events: DStream<Event & { partition: number; offset: number }> } {
  const ssc = new StreamingContext({
    appId: `verify-${env.target}`,
    batchIntervalMs: 100,
    checkpointIntervalMs: 500,
    maxRecordsPerPartition: 10,
    checkpoint: createFsCheckpointStore({ dir: `${env.dir}/checkpoints` }),
  });
  const events = ssc
    .source(createKafkaSource({ name: 'events', brokers: env.brokers, topics: [env.topic], startingOffsets: 'earliest', deserializer: 'json' }))
    .map((r) => ({ ...(r.value as Event), partition: r.partition, offset: r.offset }));
  return { ssc, events };
}

/** Creates the run's tables (the verifier gives each run a target of its own, so they start empty). */
export async function createTables(databaseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function run(ssc: StreamingContext): Promise<void> {
  await ssc.start();
  await ssc.awaitTermination();
}
