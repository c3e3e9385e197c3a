import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTsChild, type TsChild } from '@microbatch/testkit';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// The sibling sink's database helper from its sources, so this package needs no new dependency.
import { toDatabase, type Database } from '../../sink-postgres/src/index.js';
import { Produced, exactlyOnce } from './group-support.js';
import { brokers, connectClients, createTopic, topicName } from './helpers.js';

/**
 * docs/semantics.md §10 with real processes: members of one application over the Kafka consumer
 * group, SIGKILLed, restarted and SIGSTOPped past their session timeout, writing into one Postgres
 * table through the transactional sink. The table has no key, so a duplicate would show.
 */
const child = fileURLToPath(new URL('./fixtures/group-member-child.ts', import.meta.url));
const packagesDir = fileURLToPath(new URL('../../', import.meta.url));

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

// The services the run started (`--need kafka,postgres`), or the shared mechanism's.
let database: Database;
let stopServices = async () => {};
beforeAll(async () => {
  const { ensureServices } = (await import(new URL('../../../tools/services/src/index.mjs', import.meta.url).href)) as {
    ensureServices(names: string[]): Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
  };
  const services = await ensureServices(['postgres']);
  stopServices = () => services.stop();
  database = await toDatabase(services.env.DATABASE_URL!);
}, 120_000);
afterAll(async () => {
  await database?.close?.();
  await stopServices();
});

const PARTITIONS = 6;

interface Run {
  topic: string;
  dir: string;
  appId: string;
  table: string;
  prefix: string;
  produced: Produced;
  members: TsChild[];
}

const runs: Run[] = [];
afterEach(async () => {
  for (const run of runs.splice(0)) {
    await Promise.all(run.members.map((m) => (m.process.signalCode === null && m.process.exitCode === null ? (m.process.kill('SIGCONT'), m.kill()) : undefined)));
    rmSync(run.dir, { recursive: true, force: true });
    await database.query(`DROP TABLE IF EXISTS ${run.table}, ${run.prefix}markers, ${run.prefix}fences, ${run.prefix}offsets`);
  }
});

async function newRun(label: string): Promise<Run> {
  const suffix = Math.random().toString(36).slice(2, 10);
  const run: Run = {
    topic: topicName(label),
    dir: mkdtempSync(join(tmpdir(), `mb-kafka-group-${label}-`)),
    appId: topicName(`${label}-app`),
    table: `records_${suffix}`,
    prefix: `mb_${suffix}_`,
    produced: new Produced(producer),
    members: [],
  };
  runs.push(run);
  await createTopic(admin, run.topic, PARTITIONS);
  await database.query(`CREATE TABLE ${run.table} (record text NOT NULL)`);
  return run;
}

function startMember(run: Run): TsChild {
  const member = spawnTsChild(child, [brokers().join(','), run.topic, run.dir, run.appId, process.env.DATABASE_URL!, run.table, run.prefix], { packagesDir });
  run.members.push(member);
  return member;
}

const alive = (run: Run) => run.members.filter((m) => m.process.exitCode === null && m.process.signalCode === null);

/** The task set of a member's newest `assigned` line. */
const tasksOf = (member: TsChild): number[] => {
  const line = [...member.lines].reverse().find((l) => l.startsWith('assigned '));
  return line ? (JSON.parse(line.slice('assigned '.length)) as number[]) : [];
};

/** Keeps producing to every partition until stopped, as live input would arrive. */
function produceContinuously(run: Run): () => Promise<void> {
  let stopped = false;
  let round = 0;
  const loop = (async () => {
    while (!stopped) {
      const r = round++;
      for (let p = 0; p < PARTITIONS; p++) await run.produced.write(run.topic, p, 3, `live${r}-p${p}`);
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  })();
  return async () => {
    stopped = true;
    await loop;
  };
}

async function committedRecords(run: Run): Promise<string[]> {
  const { rows } = await database.query(`SELECT record FROM ${run.table}`);
  return (rows as Array<{ record: string }>).map((r) => r.record);
}

/** Waits until the table holds at least every produced record, then checks each is there exactly once. */
async function expectExactlyOnce(run: Run): Promise<void> {
  const expected = run.produced.records.map((r) => r.slice(r.indexOf(':') + 1));
  await expect.poll(async () => (await committedRecords(run)).length, { timeout: 40_000, interval: 250 }).toBeGreaterThanOrEqual(expected.length);
  expect(exactlyOnce(expected, await committedRecords(run))).toEqual({ missing: [], duplicated: [], unexpected: [] });
}

async function stopAll(run: Run): Promise<void> {
  for (const member of alive(run)) member.process.kill('SIGTERM');
  await Promise.all(run.members.map((m) => m.exited().catch(() => {})));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

describe('member processes of one application', () => {
  it('three members, random SIGKILLs and restarts (sometimes more, sometimes fewer): every record exactly once', async () => {
    const run = await newRun('kill');
    await run.produced.fill({ [run.topic]: PARTITIONS }, 30, 'backlog');
    for (let i = 0; i < 3; i++) startMember(run);
    await Promise.all(run.members.map((m) => m.waitFor((l) => l === 'running')));
    const stopProducing = produceContinuously(run);
    const schedule: string[] = [];
    try {
      for (let round = 0; round < 6; round++) {
        await sleep(random(1500, 4000));
        const living = alive(run);
        const victim = living[random(0, living.length - 1)]!;
        schedule.push(`kill pid ${victim.process.pid} (tasks ${JSON.stringify(tasksOf(victim))}) of ${living.length}`);
        await victim.kill();
        // Replacements: none, one or two, keeping one to four members.
        const replacements = Math.min(4 - alive(run).length, Math.max(1 - alive(run).length, random(0, 2)));
        for (let i = 0; i < replacements; i++) startMember(run);
        schedule.push(`start ${replacements}`);
      }
    } finally {
      await stopProducing();
    }
    while (alive(run).length < 2) startMember(run);
    await expectExactlyOnce(run).catch((error: unknown) => {
      throw new Error(`${String(error)}\nschedule: ${schedule.join('; ')}`, { cause: error });
    });
    // More than one member shared the tasks at the end.
    await expect.poll(() => alive(run).filter((m) => tasksOf(m).length > 0).length, { timeout: 20_000 }).toBeGreaterThan(1);
    await stopAll(run);
  }, 90_000);

  it('a member SIGSTOPped past its session timeout is refused (FENCED) when it wakes, stops those tasks by itself, and rejoins', async () => {
    const run = await newRun('zombie');
    await run.produced.fill({ [run.topic]: PARTITIONS }, 20, 'backlog');
    const [zombie, ...others] = [startMember(run), startMember(run), startMember(run)] as [TsChild, TsChild, TsChild];
    await Promise.all(run.members.map((m) => m.waitFor((l) => l === 'running')));
    const stopProducing = produceContinuously(run);
    try {
      await expect.poll(() => run.members.every((m) => tasksOf(m).length === 2), { timeout: 30_000 }).toBe(true);
      const held = tasksOf(zombie);
      await Promise.all(held.map((t) => zombie.waitFor((l) => l.startsWith(`started ${t} `))));
      await sleep(1000); // running batches, so it stalls in the middle of its work
      zombie.process.kill('SIGSTOP');
      // The broker expires it after the session timeout; the others' next assignment covers its tasks.
      await expect.poll(() => held.every((t) => others.some((m) => tasksOf(m).includes(t))), { timeout: 30_000, interval: 200 }).toBe(true);
      const assignments = () => zombie.lines.filter((l) => l.startsWith('assigned ')).length;
      const before = assignments();
      zombie.process.kill('SIGCONT');
      // Its next checkpoint write or sink commit is refused: it stops the task itself...
      await expect.poll(() => zombie.lines.filter((l) => held.some((t) => l === `stopped ${t} fenced`)).length, { timeout: 20_000 }).toBeGreaterThan(0);
      // ...and kafkajs finds it was expelled and rejoins as a new member, which rebalances the group.
      await expect.poll(assignments, { timeout: 20_000 }).toBeGreaterThan(before);
      expect(alive(run)).toContain(zombie);
    } finally {
      await stopProducing();
    }
    await expectExactlyOnce(run);
    await stopAll(run);
  }, 90_000);
});
