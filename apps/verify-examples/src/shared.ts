import { createFsCheckpointStore } from '@microbatch/checkpoint-fs';
import { StreamingContext, StreamingGroup, createStaticCoordinator, type DStream, type TaskContextOptions } from '@microbatch/core';
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

/** Every context's options: the run's own checkpoint directory; small batches, so a run has dozens for the kills to land in. */
function contextOptions(env: ReturnType<typeof verifyEnv>): TaskContextOptions {
  return { batchIntervalMs: 100, checkpointIntervalMs: 500, maxRecordsPerPartition: 10, checkpoint: createFsCheckpointStore({ dir: `${env.dir}/checkpoints` }) };
}

/** The input topic's events, with where each came from. */
export function eventsOf(ssc: StreamingContext, env: ReturnType<typeof verifyEnv>): DStream<Event & { partition: number; offset: number }> {
  return ssc
    .source(createKafkaSource({ name: 'events', brokers: env.brokers, topics: [env.topic], startingOffsets: 'earliest', deserializer: 'json' }))
    .map((r) => ({ ...(r.value as Event), partition: r.partition, offset: r.offset }));
}

/**
 * Runs `build` as one process under the run's app id, or, when microbatch-verify runs a group
 * (MICROBATCH_VERIFY_MEMBERS), as static member MICROBATCH_VERIFY_MEMBER of a StreamingGroup over
 * VERIFY_EXAMPLE_TASKS tasks (the topic's partitions). The input is keyed by user, so keyed state
 * stays within a task (shufflesWithinTask).
 */
export async function runProgram(env: ReturnType<typeof verifyEnv>, build: (ssc: StreamingContext) => void): Promise<void> {
  const appId = `verify-${env.target}`;
  const members = process.env.MICROBATCH_VERIFY_MEMBERS;
  if (members === undefined) {
    const ssc = new StreamingContext({ appId, ...contextOptions(env) });
    build(ssc);
    await ssc.start();
    await ssc.awaitTermination();
    return;
  }
  const coordinator = createStaticCoordinator({ member: Number(process.env.MICROBATCH_VERIFY_MEMBER), members: Number(members), tasks: Number(process.env.VERIFY_EXAMPLE_TASKS ?? 4) });
  const group = new StreamingGroup({ appId, coordinator, build, context: () => contextOptions(env), shufflesWithinTask: true });
  await group.start();
  await group.awaitTermination();
}

/**
 * Creates the run's tables (the verifier gives each run a target of its own, so they start
 * empty), under an advisory lock: group members start at once, and concurrent CREATE TABLE IF NOT
 * EXISTS of one table collide in pg_type.
 */
export async function createTables(databaseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('microbatch-verify-examples'))");
    await client.query(sql);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}
