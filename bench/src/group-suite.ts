// Scenario 8, parent side: the sample application scaled out (issue 13). Member processes of one
// group on scenario 2's topic (throughput and CPU per event for 1, 2 and 3 members, Kafka's and
// PostgreSQL's share of the machine), a member SIGKILLed (failover) and one joining (rebalance
// pause); then the plan past this machine: 10 simulated members with 100 tasks in one process.
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@microbatch/core';
import { createTables, openDatabase } from '@microbatch/sample/src/resources.ts';
import { Kafka, logLevel } from 'kafkajs';
import { percentile } from './events.ts';
import { runChild, type ChildResult } from './harness.ts';
import { machineCpu, serviceCpu } from './procstat.ts';
import type { ScenarioResult } from './report.ts';
import type { MemberArgs, MemberResult, SimArgs } from './scenarios/group.ts';
import type { EndToEnd, Sizes } from './suite.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const k = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const TASKS = 8;
// The scale plan: task N reads partition N of each of SIM_TOPICS topics of SIM_TASKS partitions.
const SIM_TOPICS = 10;
const SIM_TASKS = 100;

/** Polls `ready` every 50 ms; fails after `timeoutMs` saying what it waited for. */
async function until(what: string, ready: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = now() + timeoutMs;
  while (!ready()) {
    if (now() > deadline) throw new Error(`scenario 8: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

interface Event {
  readonly at: number;
  readonly member: string;
  readonly type: string;
  readonly task?: number;
  readonly tasks?: number[];
  readonly records?: number;
  readonly [field: string]: unknown;
}

/** Member processes of one group and everything they said, stamped with the parent's clock. */
class Members {
  readonly events: Event[] = [];
  readonly live = new Map<string, { child?: ChildProcess; done: Promise<ChildResult<MemberResult> & { killed?: NodeJS.Signals }> }>();
  private count = 0;

  constructor(private readonly args: MemberArgs) {}

  spawn(): string {
    const name = `m${this.count++}`;
    const entry: { child?: ChildProcess; done: Promise<ChildResult<MemberResult> & { killed?: NodeJS.Signals }> } = {} as never;
    entry.done = runChild<MemberResult>('group-member', this.args, {
      timeoutMs: 600_000,
      expectSignal: 'SIGKILL',
      onEvent: (event, child) => {
        entry.child = child;
        this.events.push({ ...(event as { type: string }), at: now(), member: name });
      },
    });
    this.live.set(name, entry);
    return name;
  }

  kill(name: string, signal: NodeJS.Signals): void {
    this.live.get(name)!.child!.kill(signal);
  }

  /** Each live member's latest assignment and the tasks it runs now. */
  view(): Map<string, { assigned?: number[]; running: Set<number> }> {
    const view = new Map<string, { assigned?: number[]; running: Set<number> }>([...this.live.keys()].map((n) => [n, { running: new Set<number>() }]));
    for (const e of this.events) {
      const m = view.get(e.member);
      if (!m) continue;
      if (e.type === 'assignment') m.assigned = e.tasks!;
      else if (e.type === 'task-started') m.running.add(e.task!);
      else if (e.type === 'task-stopped') m.running.delete(e.task!);
    }
    return view;
  }

  /** Every live member has its assignment and runs exactly it, and the assignments split the tasks. */
  settled(): boolean {
    const seen = new Set<number>();
    for (const m of this.view().values()) {
      if (!m.assigned || m.assigned.length === 0 || m.assigned.length !== m.running.size) return false;
      for (const t of m.assigned) {
        if (seen.has(t) || !m.running.has(t)) return false;
        seen.add(t);
      }
    }
    return seen.size === TASKS;
  }

  ownerOf(task: number): string | undefined {
    for (const [name, m] of this.view()) if (m.assigned?.includes(task)) return name;
    return undefined;
  }

  batches(filter: (e: Event) => boolean = () => true): Event[] {
    return this.events.filter((e) => e.type === 'batch' && filter(e));
  }
}

/** The services' process trees (Kafka's broker, PostgreSQL's postmaster and backends) and the machine, sampled. */
function serviceSampler() {
  const kafka = serviceCpu(Number((process.env.KAFKA_BROKERS ?? '').replace(/^kafka:\/\//, '').split(',')[0]!.split(':')[1]));
  const postgres = serviceCpu(Number(new URL(process.env.DATABASE_URL!).port || 5432));
  const sample = () => ({ at: now(), kafka: kafka.cpuSeconds(), postgres: postgres.cpuSeconds(), machine: machineCpu(), load1: loadavg()[0]! });
  return { pids: { kafka: kafka.pid, postgres: postgres.pid }, sample };
}
type Sample = ReturnType<ReturnType<typeof serviceSampler>['sample']>;

async function freshDatabase(e: EndToEnd, side: string): Promise<string> {
  const url = await e.database(side);
  const database = await openDatabase({ kind: 'postgres', url }, silentLogger);
  try {
    // Once, here: members creating the tables at the same time race on PostgreSQL's catalog.
    await createTables(database.db);
  } finally {
    await database.close();
  }
  return url;
}

export interface DrainResult {
  members: number;
  events: number;
  drainMs: number;
  eventsPerSec: number;
  /** Summed over members: from the gate's opening to exit, and each process's whole life. */
  cpuSecDrain: number;
  cpuSecTotal: number;
  cpuMsPerEventDrain: number;
  cpuMsPerEventTotal: number;
  perMember: { name: string; cpuSec: number; cpuAtGoSec: number; records: number; batches: number; tasksRun: number[]; peakRssMB: number }[];
  /** CPU seconds over the drain: Kafka's broker, PostgreSQL's processes, the whole machine (busy, of total). */
  services: { kafkaCpuSec: number; postgresCpuSec: number; machineBusySec: number; machineTotalSec: number; kafkaShare: number; postgresShare: number; membersShare: number; machineBusyShare: number };
  load1AtEnd: number;
  peakRssMB: number;
}

/** 1, 2 or 3 members drain the whole topic, timed from the gate (every member settled) to the last batch with records. */
async function drain(e: EndToEnd, n: number, sessionTimeoutMs: number): Promise<DrainResult> {
  const dbUrl = await freshDatabase(e, `group${n}`);
  const members = new Members({
    appId: `bench-group-${n}-${randomBytes(3).toString('hex')}`,
    brokers: e.brokers, topic: e.topic, dbUrl, checkpointDir: e.dir(), perBatch: e.s.e2ePerBatch,
    sessionTimeoutMs, clock: 'gated', batchIntervalMs: 1000,
  });
  log(`scenario 8: ${n} member process(es) drain ${k(e.s.e2eEvents)} events`);
  for (let i = 0; i < n; i++) members.spawn();
  await until(`${n} members to settle on the ${TASKS} tasks`, () => members.settled(), 120_000);
  await sleep(300);
  await until(`${n} members to stay settled`, () => members.settled(), 60_000);
  const sampler = serviceSampler();
  const samples: Sample[] = [sampler.sample()];
  const timer = setInterval(() => samples.push(sampler.sample()), 250);
  const go = now();
  for (const name of members.live.keys()) members.kill(name, 'SIGUSR2');
  let results: (ChildResult<MemberResult> & { killed?: NodeJS.Signals })[];
  try {
    results = await Promise.all([...members.live.values()].map((m) => m.done));
  } finally {
    clearInterval(timer);
  }
  const withRecords = members.batches((b) => (b.records ?? 0) > 0);
  const lastAt = Math.max(...withRecords.map((b) => b.at));
  const rows = await e.rows(dbUrl);
  if (rows.raw + rows.rejected !== e.s.e2eEvents) throw new Error(`scenario 8, ${n} members: ${rows.raw} + ${rows.rejected} rows stored, expected ${e.s.e2eEvents}`);
  await e.drop(dbUrl);
  const start = samples[0]!;
  const end = [...samples].reverse().find((s) => s.at <= lastAt) ?? samples.at(-1)!;
  const names = [...members.live.keys()];
  const perMember = results.map((r, i) => ({ name: names[i]!, ...r.result, peakRssMB: r.peakRssMB }));
  const cpuSecDrain = perMember.reduce((a, m) => a + m.cpuSec - m.cpuAtGoSec, 0);
  const cpuSecTotal = perMember.reduce((a, m) => a + m.cpuSec, 0);
  const drainMs = lastAt - go;
  const busy = end.machine.busy - start.machine.busy;
  const total = end.machine.total - start.machine.total;
  const kafkaCpuSec = end.kafka - start.kafka;
  const postgresCpuSec = end.postgres - start.postgres;
  return {
    members: n,
    events: e.s.e2eEvents,
    drainMs,
    eventsPerSec: (e.s.e2eEvents / drainMs) * 1000,
    cpuSecDrain,
    cpuSecTotal,
    cpuMsPerEventDrain: (cpuSecDrain / e.s.e2eEvents) * 1000,
    cpuMsPerEventTotal: (cpuSecTotal / e.s.e2eEvents) * 1000,
    perMember,
    services: {
      kafkaCpuSec, postgresCpuSec, machineBusySec: busy, machineTotalSec: total,
      // Shares of the machine's capacity (all cores) over the drain; the members' is their drain CPU over the same span.
      kafkaShare: kafkaCpuSec / total, postgresShare: postgresCpuSec / total, membersShare: cpuSecDrain / total, machineBusyShare: busy / total,
    },
    load1AtEnd: end.load1,
    peakRssMB: Math.max(...perMember.map((m) => m.peakRssMB)),
  };
}

export interface FailoverResult {
  sessionTimeoutMs: number;
  batchIntervalMs: number;
  victim: string;
  victimTasks: number[];
  perTask: { task: number; newOwner: string; assignedMs: number; startedMs: number; firstBatchMs: number }[];
  failoverMs: number;
  join: {
    joiner: string;
    /** From the new member's `joining` (its modules loaded, about to join) to the assignment delivered to every member. */
    assignedEverywhereMs: number;
    movedTasks: number[];
    /** From `joining` to every task's first completed batch in its owner under the new assignment. */
    allTasksBatchedMs: number;
    perTask: { task: number; owner: string; moved: boolean; firstBatchMs: number; longestGapMs: number }[];
  };
  rows: { raw: number; rejected: number };
}

/** 3 members with the system clock; the one with most tasks is SIGKILLed mid-drain, then a 4th member joins. */
async function failoverAndJoin(e: EndToEnd, sessionTimeoutMs: number): Promise<FailoverResult> {
  const batchIntervalMs = 500;
  const dbUrl = await freshDatabase(e, 'failover');
  const members = new Members({
    appId: `bench-failover-${randomBytes(3).toString('hex')}`,
    brokers: e.brokers, topic: e.topic, dbUrl, checkpointDir: e.dir(), perBatch: e.s.e2ePerBatch,
    sessionTimeoutMs, clock: 'system', batchIntervalMs,
  });
  log(`scenario 8: failover: 3 members, SIGKILL one mid-drain (session timeout ${sessionTimeoutMs} ms), then a member joins`);
  for (let i = 0; i < 3; i++) members.spawn();
  await until('3 members to settle', () => members.settled(), 120_000);
  const settledAt = now();
  await until('every task to complete a batch', () => new Set(members.batches((b) => b.at > settledAt).map((b) => b.task)).size === TASKS, 60_000);
  // Mid-drain: a quarter of the topic done, so the victim's tasks still have a backlog to move.
  const done = () => members.batches().reduce((a, b) => a + (b.records ?? 0), 0);
  await until('a quarter of the topic to be processed', () => done() >= e.s.e2eEvents / 4, 120_000);
  const view = members.view();
  const victim = [...view.entries()].sort((a, b) => b[1].assigned!.length - a[1].assigned!.length)[0]![0];
  const victimTasks = view.get(victim)!.assigned!;
  const killedAt = now();
  members.kill(victim, 'SIGKILL');
  await members.live.get(victim)!.done;
  members.live.delete(victim);
  const elsewhere = (task: number) => members.batches((b) => b.task === task && b.member !== victim && b.at > killedAt)[0];
  await until("the victim's tasks to complete a batch elsewhere", () => victimTasks.every((t) => elsewhere(t)), sessionTimeoutMs + 60_000);
  const after = (type: string, task: number, member: string) =>
    members.events.find((ev) => ev.at > killedAt && ev.member === member && ev.type === type && (ev.task === task || ev.tasks?.includes(task)))?.at ?? Number.NaN;
  const perTask = victimTasks.map((task) => {
    const batch = elsewhere(task)!;
    return {
      task, newOwner: batch.member,
      assignedMs: after('assignment', task, batch.member) - killedAt,
      startedMs: after('task-started', task, batch.member) - killedAt,
      firstBatchMs: batch.at - killedAt,
    };
  });
  const failoverMs = Math.max(...perTask.map((t) => t.firstBatchMs));
  await sleep(2000);

  const joiner = members.spawn();
  await until('the new member to start joining', () => members.events.some((ev) => ev.member === joiner && ev.type === 'joining'), 60_000);
  const joinAt = members.events.find((ev) => ev.member === joiner && ev.type === 'joining')!.at;
  const assignedAfterJoin = (name: string) => members.events.find((ev) => ev.at > joinAt && ev.member === name && ev.type === 'assignment');
  await until('the assignment to reach every member', () => [...members.live.keys()].every((n) => assignedAfterJoin(n)) && members.settled(), 60_000);
  const assignedEverywhereAt = Math.max(...[...members.live.keys()].map((n) => assignedAfterJoin(n)!.at));
  const owners = new Map(Array.from({ length: TASKS }, (_, t) => [t, members.ownerOf(t)!]));
  const firstIn = (task: number) => members.batches((b) => b.task === task && b.member === owners.get(task) && b.at > assignedEverywhereAt)[0];
  await until('every task to complete a batch in its owner', () => [...owners.keys()].every((t) => firstIn(t)), 60_000);
  const movedTasks = members.view().get(joiner)!.assigned!;
  const joinPerTask = [...owners].map(([task, owner]) => {
    const first = firstIn(task)!;
    const times = members.batches((b) => b.task === task && b.at > joinAt - 5000 && b.at <= first.at).map((b) => b.at);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    return { task, owner, moved: movedTasks.includes(task), firstBatchMs: first.at - joinAt, longestGapMs: Math.max(0, ...gaps, first.at - Math.max(joinAt, times.at(-2) ?? joinAt)) };
  });

  // The rest of the topic, then a graceful stop: every row exactly once across the kill and both rebalances.
  const lastIsEmpty = (task: number) => members.batches((b) => b.task === task).at(-1)?.records === 0;
  await until('the topic to be drained', () => Array.from({ length: TASKS }, (_, t) => t).every(lastIsEmpty), 180_000);
  for (const name of members.live.keys()) members.kill(name, 'SIGTERM');
  await Promise.all([...members.live.values()].map((m) => m.done));
  const rows = await e.rows(dbUrl);
  if (rows.raw + rows.rejected !== e.s.e2eEvents) throw new Error(`scenario 8, failover: ${rows.raw} + ${rows.rejected} rows stored, expected ${e.s.e2eEvents}`);
  await e.drop(dbUrl);
  return {
    sessionTimeoutMs, batchIntervalMs, victim, victimTasks, perTask, failoverMs,
    join: {
      joiner,
      assignedEverywhereMs: assignedEverywhereAt - joinAt,
      movedTasks,
      allTasksBatchedMs: Math.max(...joinPerTask.map((t) => t.firstBatchMs)),
      perTask: joinPerTask,
    },
    rows,
  };
}

interface SimEvent extends Event {
  readonly memberIndex?: number;
}

/** The scale plan's simulated members: one child, commands on its stdin, events stamped here. */
class Simulation {
  readonly events: SimEvent[] = [];
  child?: ChildProcess;
  readonly done: Promise<ChildResult<{ batches: number; cpuSec: number }>>;

  constructor(args: SimArgs) {
    this.done = runChild<{ batches: number; cpuSec: number }>('group-sim', args, {
      stdin: true,
      timeoutMs: 600_000,
      onEvent: (event, child) => {
        this.child = child;
        this.events.push({ ...(event as { type: string }), at: now(), member: String(event.member ?? ''), memberIndex: event.member as number });
      },
    });
  }

  send(command: string): void {
    this.child!.stdin!.write(`${command}\n`);
  }

  async cpu(): Promise<{ at: number; cpuSec: number; batches: number }> {
    const before = this.events.length;
    this.send('cpu');
    await until('the simulation to report its CPU', () => this.events.slice(before).some((e) => e.type === 'cpu'), 30_000);
    const e = this.events.slice(before).find((ev) => ev.type === 'cpu')!;
    return { at: e.at, cpuSec: e.cpuSec as number, batches: e.batches as number };
  }

  assignments(): Map<string, number[]> {
    const latest = new Map<string, number[]>();
    for (const e of this.events) if (e.type === 'assignment') latest.set(e.member, e.tasks!);
    return latest;
  }
}

interface SimWindow {
  windowMs: number;
  batches: number;
  /** The simulation process's CPU per batch completed, and the broker's. */
  cpuMsPerBatch: number;
  kafkaCpuMsPerBatch: number;
  /** CPU of the process over the window, in cores. */
  cores: number;
  /** Window / batches per task: how often each task completed a batch. */
  wallMsPerBatchPerTask: number;
}

export interface SimResult {
  members: number;
  tasks: number;
  /** Co-partitioned topics of `tasks` partitions each: a task reads one partition of every topic. */
  topics: number;
  partitions: number;
  batchIntervalMs: number;
  /** Every `batchIntervalMs` of real time: what keeping the tasks running costs, and how late their batches end. */
  interval: SimWindow & { totalDelayMs: { p50: number; p99: number } };
  /** Batches back to back: what an empty batch costs. */
  backToBack: SimWindow;
  startMs: number;
  peakRssMB: number;
  rebalance?: {
    leave: { member: number; movedTasks: number[]; assignedEverywhereMs: number; runningMs: number; leftMs: number };
    join: { member: number; movedTasks: number[]; assignedEverywhereMs: number; runningMs: number };
  };
}

/** CPU and batches of the simulation and the broker over `windowMs`. */
async function simWindow(sim: Simulation, tasks: number, windowMs: number): Promise<SimWindow & { from: number; to: number }> {
  const sampler = serviceSampler();
  const k0 = sampler.sample();
  const c0 = await sim.cpu();
  await sleep(windowMs);
  const c1 = await sim.cpu();
  const k1 = sampler.sample();
  const batches = c1.batches - c0.batches;
  const ms = c1.at - c0.at;
  return {
    from: c0.at, to: c1.at, windowMs: ms, batches,
    cpuMsPerBatch: ((c1.cpuSec - c0.cpuSec) / batches) * 1000,
    kafkaCpuMsPerBatch: ((k1.kafka - k0.kafka) / batches) * 1000,
    cores: ((c1.cpuSec - c0.cpuSec) * 1000) / ms,
    wallMsPerBatchPerTask: ms / (batches / tasks),
  };
}

/**
 * `members` simulated members on a topic of `tasks` partitions: a window of empty batches at the
 * interval, (10 members) one member leaving and one joining, then a window of batches back to back.
 */
async function simulate(brokers: string[], topics: string[], members: number, tasks: number, windowMs: number, sessionTimeoutMs: number): Promise<SimResult> {
  const dir = mkdtempSync(join(tmpdir(), 'microbatch-bench-sim-'));
  const batchIntervalMs = 1000;
  const started = now();
  const sim = new Simulation({ appId: `bench-sim-${tasks}-${randomBytes(3).toString('hex')}`, brokers, topics, checkpointDir: dir, members, sessionTimeoutMs, batchIntervalMs });
  try {
    log(`scenario 8: ${members} simulated member(s), ${tasks} task(s) over ${topics.length} topic(s) (${topics.length * tasks} partitions), empty batches every ${batchIntervalMs} ms, then back to back`);
    const covered = () => {
      const all = [...sim.assignments().values()].flat();
      return all.length === tasks && new Set(all).size === tasks && sim.assignments().size === members;
    };
    const batchedSince = (at: number) => new Set(sim.events.filter((e) => e.type === 'batch' && e.at > at).map((e) => e.task)).size === tasks;
    await until(`${members} simulated members to split ${tasks} tasks`, covered, 120_000);
    const coveredAt = now();
    await until('every simulated task to complete a batch', () => batchedSince(coveredAt), 60_000);
    const startMs = now() - started;
    await sleep(2000);
    const { from, to, ...interval } = await simWindow(sim, tasks, windowMs);
    const delays = sim.events.filter((e) => e.type === 'batch' && e.at > from && e.at <= to).map((e) => e.totalMs as number);
    const rebalance = members > 1 ? await rebalances(sim, members) : undefined;
    sim.send('fast');
    await sleep(1000);
    const { from: _f, to: _t, ...backToBack } = await simWindow(sim, tasks, windowMs);
    sim.send('stop');
    const run = await sim.done;
    return {
      members, tasks, topics: topics.length, partitions: topics.length * tasks, batchIntervalMs,
      interval: { ...interval, totalDelayMs: { p50: percentile(delays, 50), p99: percentile(delays, 99) } },
      backToBack, startMs, peakRssMB: run.peakRssMB, ...(rebalance ? { rebalance } : {}),
    };
  } catch (error) {
    sim.child?.kill('SIGKILL');
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One member leaves gracefully, then a new one joins: assignment delivered to every member, and the moved tasks' first batch in their new owner. */
async function rebalances(sim: Simulation, members: number): Promise<NonNullable<SimResult['rebalance']>> {
  const measure = async (trigger: string, which: number, movedOf: () => number[], live: number[]) => {
    const from = sim.events.find((e) => e.type === trigger && e.memberIndex === which)!.at;
    const assigned = (m: number) => sim.events.find((e) => e.type === 'assignment' && e.memberIndex === m && e.at > from);
    await until(`the assignment to reach every member after ${trigger}`, () => live.every((m) => assigned(m)), 60_000);
    const assignedEverywhereMs = Math.max(...live.map((m) => assigned(m)!.at)) - from;
    const moved = movedOf();
    const owner = new Map<number, number>();
    for (const m of live) for (const t of assigned(m)!.tasks!) owner.set(t, m);
    const ran = (t: number) => sim.events.find((e) => e.type === 'batch' && e.task === t && e.memberIndex === owner.get(t) && e.at > from);
    await until(`the moved tasks to run in their new owners after ${trigger}`, () => moved.every((t) => ran(t)), 60_000);
    return { from, moved, assignedEverywhereMs, runningMs: Math.max(...moved.map((t) => ran(t)!.at)) - from };
  };
  const leaving = members - 1;
  const leavingTasks = sim.assignments().get(String(leaving))!;
  const others = Array.from({ length: members - 1 }, (_, i) => i);
  sim.send('remove');
  await until('the member to start leaving', () => sim.events.some((e) => e.type === 'leaving'), 30_000);
  const leave = await measure('leaving', leaving, () => leavingTasks, others);
  await until('the member to leave', () => sim.events.some((e) => e.type === 'left'), 60_000);
  const leftMs = sim.events.find((e) => e.type === 'left')!.at - leave.from;
  await sleep(2000);
  sim.send('add');
  await until('the new member to start joining', () => sim.events.some((e) => e.type === 'joining' && e.memberIndex === members), 30_000);
  const join = await measure('joining', members, () => sim.events.find((e) => e.type === 'assignment' && e.memberIndex === members)!.tasks!, [...others, members]);
  return {
    leave: { member: leaving, movedTasks: leave.moved, assignedEverywhereMs: leave.assignedEverywhereMs, runningMs: leave.runningMs, leftMs },
    join: { member: members, movedTasks: join.moved, assignedEverywhereMs: join.assignedEverywhereMs, runningMs: join.runningMs },
  };
}

/** Empty topics of `partitions[i]` partitions each, created (leaders elected) before `fn` and deleted after it. */
async function withTopics<T>(brokers: string[], partitions: number[], fn: (topics: string[]) => Promise<T>): Promise<T> {
  const admin = new Kafka({ clientId: 'bench', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const tag = randomBytes(3).toString('hex');
  const topics = partitions.map((p, i) => `mbbench-sim-${tag}-${i}-${p}`);
  try {
    const created = now();
    // One topic per request, each with its own timeout: a broker creating 1000 partitions takes a while.
    for (const [i, topic] of topics.entries()) {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions[i]!, replicationFactor: 1 }], waitForLeaders: false, timeout: 60_000 });
    }
    // Not kafkajs's waitForLeaders (on by default): it retries only LEADER_NOT_AVAILABLE, and a KRaft broker may
    // answer UNKNOWN_TOPIC_OR_PARTITION for a topic it has just created (seen here: the run failed).
    const led = async () => {
      try {
        const { topics: meta } = await admin.fetchTopicMetadata({ topics });
        return meta.every((t, i) => t.partitions.length === partitions[i] && t.partitions.every((p) => p.leader >= 0));
      } catch {
        return false;
      }
    };
    const deadline = now() + 120_000;
    while (!(await led())) {
      if (now() > deadline) throw new Error(`scenario 8: the ${topics.length} topics' partitions have no leader 120 s after their creation`);
      await sleep(200);
    }
    log(`scenario 8: created ${topics.length} topic(s), ${partitions.reduce((a, p) => a + p, 0)} partitions, in ${sec(now() - created)}`);
    return await fn(topics);
  } finally {
    await admin.deleteTopics({ topics, timeout: 60_000 }).catch((error) => log(`delete topics: ${error}`));
    await admin.disconnect();
  }
}

/** Scenario 8: every figure of issue 13's "Benchmarks" section. */
export async function groupScaleOut(e: EndToEnd, s: Sizes): Promise<ScenarioResult[]> {
  await e.produce();
  const started = now();
  const sessionTimeoutMs = s.rounds > 1 ? 10_000 : 6_000;
  const drains: DrainResult[] = [];
  for (const n of [1, 2, 3]) drains.push(await drain(e, n, sessionTimeoutMs));
  const [one, two, three] = drains as [DrainResult, DrainResult, DrainResult];
  const failover = await failoverAndJoin(e, sessionTimeoutMs);
  const simWindowMs = s.rounds > 1 ? 8_000 : 3_000;
  // The plan of issue 13: 1000 partitions (10 co-partitioned topics of 100), 100 tasks, 10 members;
  // against 1 task doing the same per-task work alone: 1 member, the same 10 topics of 1 partition
  // each (a batch lists and plans 10 partitions over 10 topics either way), so the ratio is what
  // the scale adds, not what a task's 10 topics cost.
  const single = await withTopics(e.brokers, Array.from({ length: SIM_TOPICS }, () => 1), (topics) => simulate(e.brokers, topics, 1, 1, simWindowMs, sessionTimeoutMs));
  const many = await withTopics(e.brokers, Array.from({ length: SIM_TOPICS }, () => SIM_TASKS), (topics) => simulate(e.brokers, topics, 10, SIM_TASKS, simWindowMs, sessionTimeoutMs));

  const speedup = two.eventsPerSec / one.eventsPerSec;
  const cpuRatio = three.cpuMsPerEventDrain / one.cpuMsPerEventDrain;
  const pct = (v: number) => `${(v * 100).toFixed(0)}%`;
  const share = ({ members, services: v }: DrainResult) =>
    `${members}m: machine busy ${pct(v.machineBusyShare)} (members ${pct(v.membersShare)}, Kafka ${pct(v.kafkaShare)}, PostgreSQL ${pct(v.postgresShare)}, ` +
    `other processes ${pct(v.machineBusyShare - v.membersShare - v.kafkaShare - v.postgresShare)})`;
  const failoverTarget = sessionTimeoutMs + 2000;
  const rb = many.rebalance!;
  const rebalanceWorst = Math.max(rb.leave.runningMs, rb.join.runningMs);
  const perBatchRatio = many.backToBack.cpuMsPerBatch / single.backToBack.cpuMsPerBatch;
  const title = `scale-out: the scenario-2 pipeline as a group (${k(s.e2eEvents)} events, 8 partitions = 8 tasks), member processes`;
  return [
    {
      id: '8a',
      title: `${title}: throughput`,
      project: `1 / 2 / 3 members: ${drains.map((d) => `${k(d.eventsPerSec)}`).join(' / ')} ev/s; ${[one, two].map(share).join('; ')}; 1-min load at the end ${two.load1AtEnd.toFixed(2)}`,
      baseline: `1 member ${k(one.eventsPerSec)} ev/s (same run)`,
      ratio: speedup,
      ratioOf: '2 members / 1 member ev/s',
      target: '>= 1.5 (or the measured reason)',
      met: speedup >= 1.5,
      peakRssMB: { project: two.peakRssMB, baseline: one.peakRssMB },
      details: { drains, sessionTimeoutMs, scenarioSec: (now() - started) / 1000 },
    },
    {
      id: '8b',
      title: 'scale-out: CPU per event summed over members (drain: gate to exit)',
      project: `1 / 2 / 3 members: ${drains.map((d) => `${(d.cpuMsPerEventDrain * 1000).toFixed(1)}`).join(' / ')} us/event (whole processes incl. start: ${drains.map((d) => (d.cpuMsPerEventTotal * 1000).toFixed(1)).join(' / ')})`,
      baseline: `1 member ${(one.cpuMsPerEventDrain * 1000).toFixed(1)} us/event`,
      ratio: cpuRatio,
      ratioOf: '3 members / 1 member CPU per event',
      target: '<= 1.2',
      met: cpuRatio <= 1.2,
      peakRssMB: { project: three.peakRssMB, baseline: one.peakRssMB },
      details: { cpuMsPerEvent: drains.map((d) => ({ members: d.members, drain: d.cpuMsPerEventDrain, total: d.cpuMsPerEventTotal })) },
    },
    {
      id: '8c',
      title: `scale-out: failover (SIGKILL of 1 of 3 members mid-drain, session timeout ${sessionTimeoutMs / 1000} s) and a member joining`,
      project: `SIGKILL -> its ${failover.victimTasks.length} tasks' first batch elsewhere ${sec(failover.failoverMs)} (assigned after ${sec(Math.max(...failover.perTask.map((t) => t.assignedMs)))}); join -> assignment everywhere ${sec(failover.join.assignedEverywhereMs)}, every task batched in its owner ${sec(failover.join.allTasksBatchedMs)} (${failover.join.movedTasks.length} tasks moved)`,
      baseline: `session timeout + 2 s = ${sec(failoverTarget)}`,
      ratio: failover.failoverMs / failoverTarget,
      ratioOf: 'failover / (session timeout + 2 s)',
      target: '<= session timeout + 2 s',
      met: failover.failoverMs <= failoverTarget,
      peakRssMB: { project: Number.NaN, baseline: Number.NaN },
      details: failover,
    },
    {
      id: '8d',
      title: `scale plan: ${many.tasks} tasks over ${many.members} simulated members in one process (${many.partitions} partitions: ${many.topics} co-partitioned topics of ${many.tasks}, one Kafka source per task; loopback, one broker), empty batches`,
      project: `back to back: ${many.backToBack.cpuMsPerBatch.toFixed(2)} CPU ms per batch (broker ${many.backToBack.kafkaCpuMsPerBatch.toFixed(2)}), a batch per task every ${many.backToBack.wallMsPerBatchPerTask.toFixed(0)} ms; every ${many.batchIntervalMs} ms: ${many.interval.cores.toFixed(2)} cores (${many.interval.cpuMsPerBatch.toFixed(2)} ms per batch), batch end p50/p99 ${many.interval.totalDelayMs.p50}/${many.interval.totalDelayMs.p99} ms after its time; all tasks running ${sec(many.startMs)} after spawn`,
      baseline: `1 task, 1 member, ${single.topics} topics of 1 partition: back to back ${single.backToBack.cpuMsPerBatch.toFixed(2)} CPU ms per batch (broker ${single.backToBack.kafkaCpuMsPerBatch.toFixed(2)}), every ${single.backToBack.wallMsPerBatchPerTask.toFixed(1)} ms; every ${single.batchIntervalMs} ms: ${single.interval.cores.toFixed(2)} cores, batch end p50/p99 ${single.interval.totalDelayMs.p50}/${single.interval.totalDelayMs.p99} ms`,
      ratio: perBatchRatio,
      ratioOf: '100 tasks / 1 task CPU per batch, back to back',
      target: '<= 2 (proposed here)',
      met: perBatchRatio <= 2,
      peakRssMB: { project: many.peakRssMB, baseline: single.peakRssMB },
      details: { many, single },
    },
    {
      id: '8e',
      title: `scale plan: rebalance of ${many.tasks} tasks (${many.partitions} partitions) over ${many.members} members, one member leaving (graceful) / one joining`,
      project: `leave: assignment everywhere ${sec(rb.leave.assignedEverywhereMs)}, its ${rb.leave.movedTasks.length} tasks running again ${sec(rb.leave.runningMs)}; join: assignment everywhere ${sec(rb.join.assignedEverywhereMs)}, ${rb.join.movedTasks.length} tasks running in the new member ${sec(rb.join.runningMs)}`,
      baseline: '5 s (proposed here)',
      ratio: rebalanceWorst / 5000,
      ratioOf: 'slower of leave/join to all tasks running / 5 s',
      target: '<= 5 s (proposed here)',
      met: rebalanceWorst <= 5000,
      peakRssMB: { project: many.peakRssMB, baseline: Number.NaN },
      details: rb,
    },
  ];
}
