import { join, resolve } from 'node:path';
import { createDefaultLogger } from '@microbatch/core';
import { killLoop, planKills, RunFailed, seededRandom } from '@microbatch/testkit';
import { expectedTables } from '../expected.js';
import { recordsInPartition } from '../generate.js';
import { UsageError, assertShape, brokersFrom, checkpointFrom, helpText, parseFlags, sinkFrom, type FlagSpec } from '../options.js';
import { existingOutputTopics } from '../kafka-topics.js';
import { openDatabase } from '../resources.js';
import { groupChaos } from './crash-group.js';
import { compareSink } from './verify.js';
import { produce } from './produce.js';

export const crashTestFlags: FlagSpec[] = [
  { name: 'kills', kind: 'int', default: 20, help: 'SIGKILLs at random moments, each aimed at a phase of a batch' },
  { name: 'events', kind: 'int', default: 20_000, help: 'number of generated events' },
  { name: 'partitions', kind: 'int', default: 8, help: 'partitions of the generator or topic' },
  { name: 'seed', kind: 'int', default: 1, help: 'seed of the generated events' },
  { name: 'source', kind: 'string', default: 'memory', help: 'memory or kafka (the events are produced to a new topic first)' },
  { name: 'brokers', kind: 'string', help: 'Kafka brokers, host:port[,host:port]' },
  { name: 'topic', kind: 'string', help: 'new topic for the events (default crash-test-<stamp>)' },
  { name: 'checkpoint', kind: 'string', help: 'fs:<dir> | redis://... | s3://... (default: a new fs directory)' },
  { name: 'sink', kind: 'string', help: 'pglite:<dir> | postgres://... (must hold no sample tables yet; default: a new PGlite directory) | kafka://host:port/PREFIX (a new prefix)' },
  { name: 'app-id', kind: 'string', help: 'application id (default crash-<stamp>)' },
  { name: 'batch-interval', kind: 'int', default: 100, help: 'batch interval in ms' },
  { name: 'processes', kind: 'int', default: 0, help: 'run the app as a group of N members (--source kafka, --sink postgres://): kill random members, start more or fewer replacements, stall one past its session timeout' },
  { name: 'session-timeout', kind: 'int', default: 6000, help: 'with --processes: the Kafka group session timeout of the members, in ms' },
];

export const crashTestHelp = helpText(
  'crash-test',
  'run the pipeline as a child process, SIGKILL it K times at random moments in every phase of a batch, restart it each time, let the last run finish, then verify',
  crashTestFlags,
);

/** The phases a group member's kill is aimed at, in turn; the member announces each (MICROBATCH_TRACE=1) and lingers there briefly. */
export const PHASES = ['planning', 'output', 'between-output-and-checkpoint'] as const;

/**
 * A single process is killed by the engine itself at the testkit's crash points
 * (MICROBATCH_VERIFY_CRASH_AT, the switch microbatch-verify uses): exactly at the point, no
 * lingering. Their names here, in the order the kills take them.
 */
const SINGLE_PHASES: Readonly<Record<string, string>> = {
  'plan:before-write': 'planning',
  'output:in-progress': 'output',
  'output:after': 'between-output-and-checkpoint',
  'checkpoint:during-write': 'checkpoint-write',
  'plan:after-write': 'plan-written',
};

export async function crashTest(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const o = parseFlags(argv, crashTestFlags);
  assertShape(o);
  const stamp = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const workDir = join('.microbatch', 'crash-test', stamp);
  const checkpoint = (o.checkpoint as string | undefined) ?? `fs:${join(workDir, 'checkpoints')}`;
  const sink = (o.sink as string | undefined) ?? `pglite:${join(workDir, 'pglite')}`;
  checkpointFrom(checkpoint);
  const sinkSpec = sinkFrom(sink);
  const shape = { events: o.events as number, partitions: o.partitions as number, seed: o.seed as number };
  const kills = o.kills as number;
  const processes = o.processes as number;
  if (processes > 0 && (o.source !== 'kafka' || sinkSpec.kind !== 'postgres')) {
    throw new UsageError('--processes runs a Kafka consumer group: it needs --source kafka --brokers ... and --sink postgres://...');
  }
  const appId = (o['app-id'] as string | undefined) ?? `crash-${stamp}`;
  const shapeArgs = ['--events', String(shape.events), '--partitions', String(shape.partitions), '--seed', String(shape.seed)];
  let sourceArgs = ['--source', 'memory'];
  if (o.source === 'kafka') {
    const brokers = brokersFrom(o.brokers as string | undefined).join(',');
    const topic = (o.topic as string | undefined) ?? `crash-test-${stamp}`;
    await produce(['--brokers', brokers, '--topic', topic, ...shapeArgs], write);
    sourceArgs = ['--source', 'kafka', '--brokers', brokers, '--topic', topic];
  }
  await assertEmptySink(sinkSpec);
  // Enough batches for every kill to find its phase: about three batches per kill.
  const perPartition = recordsInPartition(shape, 0);
  const cap = Math.max(1, Math.ceil(perPartition / Math.max(3, kills * 3)));
  const runArgs = [
    'run', ...sourceArgs, ...shapeArgs, '--checkpoint', checkpoint, '--sink', sink, '--app-id', appId,
    '--batch-interval', String(o['batch-interval']), '--max-records-per-partition', String(cap), '--until-idle', '--quiet',
  ];
  write(`crash test: ${shape.events} events, ${shape.partitions} partitions, ${kills} kills; checkpoint ${checkpoint}; sink ${sink.replace(/\/\/([^:/@]*):([^@]*)@/, '//$1:***@')}`);

  const hit = new Map<string, number>();
  let finishedEarly = false;
  if (processes > 0) {
    const members = ['--group', '--session-timeout', String(o['session-timeout'])];
    const outcome = await groupChaos({ runArgs: [...runArgs.filter((a) => a !== '--until-idle'), ...members], processes, kills, sessionTimeoutMs: o['session-timeout'] as number, hit }, write);
    if (!outcome.ok) return 1;
    return verdict(shape, sinkSpec, hit, PHASES, kills, outcome.finishedEarly, write);
  }
  // An output-phase kill lands where the outputs offer it (offerOutputCrash: inside an open
  // Postgres or Kafka transaction that already holds records), counting only batches that write;
  // a few ms in, as the plan has it, often landed before any transaction or in a skipped replay.
  const plan = planKills(kills, seededRandom(Math.floor(Math.random() * 2 ** 31))).map((kill) =>
    kill.point === 'output:in-progress' ? { ...kill, delayMs: 'offer' as const } : kill,
  );
  try {
    // This same CLI, same node flags; a run never spawns members of its own.
    const app = [process.execPath, ...process.execArgv, resolve(process.argv[1]!), ...runArgs];
    const outcome = await killLoop(
      { app, cwd: process.cwd(), processTimeoutMs: 300_000 },
      {
        env: { MICROBATCH_WORKERS: '0', MICROBATCH_TRACE: '0' },
        plan,
        dir: join(workDir, 'kills'),
        write,
        onKill: (kill, k) => {
          const phase = SINGLE_PHASES[kill.point]!;
          hit.set(phase, (hit.get(phase) ?? 0) + 1);
          write(`${bar(k + 1, kills)} kill ${k + 1}/${kills}: SIGKILL during ${phase}`);
        },
      },
    );
    finishedEarly = outcome.finishedEarly;
  } catch (error) {
    if (!(error instanceof RunFailed)) throw error;
    write(`the pipeline failed: ${error.message}`);
    return 1;
  }
  return verdict(shape, sinkSpec, hit, Object.values(SINGLE_PHASES), kills, finishedEarly, write);
}

/** Compares the four tables with what the events must give, and prints the verdict: 0 when exact and every phase was hit. */
async function verdict(
  shape: Parameters<typeof expectedTables>[0],
  sinkSpec: ReturnType<typeof sinkFrom>,
  hit: ReadonlyMap<string, number>,
  phases: readonly string[],
  kills: number,
  finishedEarly: boolean,
  write: (line: string) => void,
): Promise<number> {
  const reports = await compareSink(sinkSpec, expectedTables(shape));
  for (const r of reports) {
    write(`  ${r.table.padEnd(16)} ${r.missing.length} missing, ${r.duplicated.length} duplicated, ${r.wrong.length} wrong (of ${r.expected})`);
  }
  write(`  phases hit: ${phases.map((p) => `${p} ${hit.get(p) ?? 0}`).join(', ')}`);
  const exact = reports.every((r) => r.missing.length + r.duplicated.length + r.wrong.length === 0);
  const everyPhase = finishedEarly || kills < phases.length || phases.every((p) => (hit.get(p) ?? 0) > 0);
  write(exact && everyPhase ? 'VERDICT: exactly once — zero missing, zero duplicated, zero wrong' : 'VERDICT: FAILED');
  return exact && everyPhase ? 0 : 1;
}

export function bar(done: number, total: number): string {
  const width = 20;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

async function assertEmptySink(spec: ReturnType<typeof sinkFrom>): Promise<void> {
  if (spec.kind === 'kafka') {
    const existing = await existingOutputTopics(spec);
    if (existing.length > 0) throw new UsageError(`the topics ${existing.join(', ')} exist already; the crash test needs a new topic prefix (its verdict compares whole topics)`);
    return;
  }
  if (spec.kind === 'pglite') return; // a new directory unless given; a reused one is checked below too
  const database = await openDatabase(spec, createDefaultLogger());
  try {
    const existing = await database.db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM information_schema.tables WHERE table_name IN ('events_raw','page_views','user_totals','events_rejected')",
    );
    if (Number(existing.rows[0]?.n ?? 0) > 0) {
      throw new UsageError('the sink already holds sample tables; the crash test needs an empty database (its verdict compares whole tables)');
    }
  } finally {
    await database.close();
  }
}
