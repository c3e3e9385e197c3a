import { join } from 'node:path';
import { createDefaultLogger } from '@microbatch/core';
import { expectedTables } from '../expected.js';
import { recordsInPartition } from '../generate.js';
import { UsageError, assertShape, brokersFrom, checkpointFrom, helpText, parseFlags, sinkFrom, type FlagSpec } from '../options.js';
import { existingOutputTopics } from '../kafka-topics.js';
import { spawnMember } from '../members.js';
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

/** The phases a kill is aimed at, in turn; the child announces each (MICROBATCH_TRACE=1) and lingers there briefly. */
export const PHASES = ['planning', 'output', 'between-output-and-checkpoint'] as const;

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
    return verdict(shape, sinkSpec, hit, kills, outcome.finishedEarly, write);
  }
  for (let k = 0; k < kills; k++) {
    const phase = PHASES[k % PHASES.length]!;
    const skip = Math.floor(Math.random() * 3);
    const outcome = await killAt(runArgs, phase, skip);
    if (outcome === 'finished') {
      finishedEarly = true;
      write(`\nthe pipeline finished before kill ${k + 1}; ${k} kills done`);
      break;
    }
    hit.set(phase, (hit.get(phase) ?? 0) + 1);
    write(`${bar(k + 1, kills)} kill ${k + 1}/${kills}: SIGKILL during ${phase}`);
  }

  write('final run, until idle...');
  const { code } = await spawnMember('final', runArgs).exited;
  if (code !== 0) {
    write(`the final run failed with exit code ${code}`);
    return 1;
  }
  return verdict(shape, sinkSpec, hit, kills, finishedEarly, write);
}

/** Compares the four tables with what the events must give, and prints the verdict: 0 when exact and every phase was hit. */
async function verdict(
  shape: Parameters<typeof expectedTables>[0],
  sinkSpec: ReturnType<typeof sinkFrom>,
  hit: ReadonlyMap<string, number>,
  kills: number,
  finishedEarly: boolean,
  write: (line: string) => void,
): Promise<number> {
  const reports = await compareSink(sinkSpec, expectedTables(shape));
  for (const r of reports) {
    write(`  ${r.table.padEnd(16)} ${r.missing.length} missing, ${r.duplicated.length} duplicated, ${r.wrong.length} wrong (of ${r.expected})`);
  }
  write(`  phases hit: ${PHASES.map((p) => `${p} ${hit.get(p) ?? 0}`).join(', ')}`);
  const exact = reports.every((r) => r.missing.length + r.duplicated.length + r.wrong.length === 0);
  const everyPhase = finishedEarly || kills < PHASES.length || PHASES.every((p) => (hit.get(p) ?? 0) > 0);
  write(exact && everyPhase ? 'VERDICT: exactly once — zero missing, zero duplicated, zero wrong' : 'VERDICT: FAILED');
  return exact && everyPhase ? 0 : 1;
}

/** Starts a run and SIGKILLs it when it announces `phase` for the (skip+1)-th time. */
async function killAt(args: readonly string[], phase: string, skip: number): Promise<'killed' | 'finished'> {
  const member = spawnMember('run', args, { trace: true });
  let seen = 0;
  const reached = new Promise<boolean>((resolve) => {
    member.onLine((line) => {
      if (line.startsWith(`trace ${phase} `) && seen++ === skip) resolve(true);
    });
    void member.exited.then(() => resolve(false));
  });
  const killed = await reached;
  if (killed) member.child.kill('SIGKILL');
  const { code, signal } = await member.exited;
  if (killed && signal === 'SIGKILL') return 'killed';
  if (code === 0) return 'finished';
  throw new Error(`the pipeline exited with code ${code} before the kill`);
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
