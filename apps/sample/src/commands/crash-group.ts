import { signalAll, spawnMember, type Member } from '../members.js';
import { PHASES, bar } from './crash-test.js';

export interface GroupChaosOptions {
  /** A member's `run` arguments (with `--group`, without `--until-idle`). */
  readonly runArgs: readonly string[];
  /** Members at the start. */
  readonly processes: number;
  readonly kills: number;
  readonly sessionTimeoutMs: number;
  /** Kills per phase reached, filled in as they happen. */
  readonly hit: Map<string, number>;
}

/** How long a kill waits for its victim to reach the phase aimed at (a member may own no task): then it kills anyway. */
const AIM_TIMEOUT_MS = 10_000;
/** How long the final stop waits for a member to be up (its first assignment) before it signals it anyway. */
const UP_TIMEOUT_MS = 30_000;
/** How long a member may take to stop gracefully on SIGTERM before it counts as hung. */
const STOP_TIMEOUT_MS = 60_000;

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/**
 * `crash-test --processes N`: N members of one group; `kills` times, a random member is SIGKILLed
 * when it announces the phase aimed at (in turn, as the single-process crash test does), then
 * 0, 1 or 2 replacements start, so the group shrinks, stays or grows (between 1 and N+1 members);
 * halfway, one member is SIGSTOPped past its session timeout (its tasks move and take new epochs)
 * and then SIGCONTed, so it wakes up a zombie that must be refused and stop those tasks by itself.
 * Finally every member is stopped with SIGTERM and must exit 0; N new members finish the input
 * with --until-idle and must exit 0. The caller then verifies the tables.
 */
export async function groupChaos(o: GroupChaosOptions, write: (line: string) => void): Promise<{ ok: boolean; finishedEarly: boolean }> {
  const live = new Set<Member>();
  const failures: string[] = [];
  const expectedEnds = new WeakSet<Member>();
  // A member is up once it has its first assignment ("tasks owned"): before it joins, its process
  // may still be loading and have no signal handler yet, so a SIGTERM would kill it like any
  // starting process (harmless, but not the graceful stop this test asks of members that run).
  // A member that gets no assignment within UP_TIMEOUT_MS is stopped anyway.
  const up = new WeakMap<Member, Promise<void>>();
  let started = 0;
  const start = (args: readonly string[], trace: boolean) => {
    const member = spawnMember(`m${started++}`, args, { trace });
    up.set(member, new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, UP_TIMEOUT_MS);
      member.onLine((line) => {
        if (line.startsWith('tasks owned:')) {
          clearTimeout(timer);
          resolve();
        }
      });
      void member.exited.then(() => {
        clearTimeout(timer);
        resolve();
      });
    }));
    live.add(member);
    void member.exited.then(({ code, signal }) => {
      live.delete(member);
      if (!expectedEnds.has(member)) failures.push(`${member.name} exited by itself (${signal ?? `code ${code}`})`);
    });
    return member;
  };
  for (let i = 0; i < o.processes; i++) start(o.runArgs, true);
  write(`started ${o.processes} members`);

  let finishedEarly = false;
  const stallAt = Math.floor(o.kills / 2);
  for (let k = 0; k < o.kills; k++) {
    if (k === stallAt) await stall(pick([...live]), o.sessionTimeoutMs, write);
    const phase = PHASES[k % PHASES.length]!;
    const victim = pick([...live]);
    const reached = await announces(victim, phase, Math.floor(Math.random() * 3));
    expectedEnds.add(victim);
    victim.child.kill('SIGKILL');
    await victim.exited;
    if (reached) o.hit.set(phase, (o.hit.get(phase) ?? 0) + 1);
    else finishedEarly = true;
    const wanted = Math.min(o.processes + 1, Math.max(1, live.size + Math.floor(Math.random() * 3)));
    while (live.size < wanted) start(o.runArgs, true);
    write(`${bar(k + 1, o.kills)} kill ${k + 1}/${o.kills}: SIGKILL ${victim.name} ${reached ? `during ${phase}` : 'at a random moment (it reached no phase in time)'}; ${live.size} members now`);
  }

  await Promise.all([...live].map((m) => up.get(m)));
  write(`stopping the ${live.size} members with SIGTERM (each must stop gracefully)...`);
  const survivors = [...live];
  for (const m of survivors) expectedEnds.add(m);
  signalAll(survivors, 'SIGTERM');
  for (const m of survivors) {
    const timer = setTimeout(() => m.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const { code, signal } = await m.exited;
    clearTimeout(timer);
    if (code !== 0) failures.push(`${m.name} did not stop gracefully on SIGTERM (${signal ?? `code ${code}`})`);
  }

  write(`final: ${o.processes} members until idle...`);
  const finals = Array.from({ length: o.processes }, () => start([...o.runArgs, '--until-idle'], false));
  for (const m of finals) expectedEnds.add(m);
  for (const m of finals) {
    const { code, signal } = await m.exited;
    if (code !== 0) failures.push(`final member ${m.name} failed (${signal ?? `code ${code}`})`);
  }
  for (const f of failures) write(`  FAILED: ${f}`);
  return { ok: failures.length === 0, finishedEarly };
}

/** Resolves true when `member` announces `phase` for the (skip+1)-th time, false after AIM_TIMEOUT_MS or if it exits. */
function announces(member: Member, phase: string, skip: number): Promise<boolean> {
  return new Promise((resolve) => {
    let seen = 0;
    const timer = setTimeout(() => resolve(false), AIM_TIMEOUT_MS);
    member.onLine((line) => {
      if (line.startsWith(`trace ${phase} `) && seen++ === skip) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    void member.exited.then(() => resolve(false));
  });
}

/** SIGSTOP past the session timeout, so the group moves its tasks, then SIGCONT: a zombie wakes up. */
async function stall(member: Member, sessionTimeoutMs: number, write: (line: string) => void): Promise<void> {
  const ms = sessionTimeoutMs + 3000;
  write(`SIGSTOP ${member.name} for ${ms} ms (session timeout ${sessionTimeoutMs} ms): its tasks move to the others`);
  member.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, ms));
  member.child.kill('SIGCONT');
  write(`SIGCONT ${member.name}: it wakes up fenced on the tasks it lost`);
}
