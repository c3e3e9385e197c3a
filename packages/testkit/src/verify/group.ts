import { join } from 'node:path';
import { VERIFY_ENV } from '@microbatch/core';
import type { PlannedKill } from './kill-plan.js';
import type { ResolvedVerifyOptions, RunInfo } from './options.js';
import { startCommand, type Started } from './process.js';
import { readTrace } from './trace.js';
import { RunFailed, type LandedKill } from './kill-loop.js';

interface Member {
  readonly name: string;
  readonly slot: number;
  readonly trace: string;
  readonly kill: PlannedKill | undefined;
  readonly process: Started;
  readonly ended: Promise<Member>;
}

/**
 * Group mode: `o.members` members, each started with MICROBATCH_VERIFY_MEMBER=<slot> and
 * MICROBATCH_VERIFY_MEMBERS=N (a static member I/N uses them; a Kafka group member ignores them).
 * Each planned kill arms one member when it starts; when it dies at its point, a replacement
 * joins in its slot, armed with the next kill, so members are killed and added while the others
 * run. When every member has ended, N fresh members run to the end. Each member traces to a file
 * of its own (`trace-<name>.jsonl` beside `env`'s), so a crash is told to the member it struck.
 */
export async function runGroup(
  o: ResolvedVerifyOptions,
  info: RunInfo,
  env: Record<string, string>,
  plan: readonly PlannedKill[],
  random: () => number,
  write: (line: string) => void = () => {},
): Promise<LandedKill[]> {
  let started = 0;
  let next = 0;
  const live = new Set<Member>();
  const start = (slot: number, armed: boolean): Member => {
    const name = `m${started++}`;
    const kill = armed && next < plan.length ? plan[next++] : undefined;
    const trace = join(info.dir, `trace-${name}.jsonl`);
    const process = startCommand(o.app, {
      cwd: o.cwd,
      logFile: join(info.dir, 'logs', `${name}.log`),
      env: {
        ...env,
        [VERIFY_ENV.trace]: trace,
        MICROBATCH_VERIFY_MEMBER: String(slot),
        MICROBATCH_VERIFY_MEMBERS: String(o.members),
        ...(kill ? { [VERIFY_ENV.crashAt]: `${kill.point}@${kill.nth}`, [VERIFY_ENV.crashDelayMs]: String(kill.delayMs) } : {}),
      },
    });
    const timer = setTimeout(() => process.killGroup(), o.processTimeoutMs);
    const member: Member = {
      name,
      slot,
      trace,
      kill,
      process,
      ended: process.ended.then(async () => {
        clearTimeout(timer);
        process.killGroup();
        await process.exited;
        return member;
      }),
    };
    live.add(member);
    return member;
  };

  const landed: LandedKill[] = [];
  for (let slot = 0; slot < o.members; slot++) start(slot, plan.length > 0);
  while (live.size > 0) {
    const member = await Promise.race([...live].map((m) => m.ended));
    live.delete(member);
    const { code, signal } = await member.process.exited;
    const crash = readTrace(member.trace).find((l) => l.kind === 'crash');
    if (crash?.kind === 'crash' && member.kill) {
      landed.push({ ...member.kill, batchTime: crash.batchTime, landed: crash.landed, member: member.name });
      // Killed and added: a new member takes the slot, sometimes after the others moved on.
      if (random() < 0.5) await new Promise((r) => setTimeout(r, 200 + Math.floor(random() * 800)));
      const replacement = start(member.slot, true);
      write(`  kill ${landed.length}/${plan.length}: SIGKILL ${member.name} ${member.kill.phase} (batch ${crash.batchTime}); ${replacement.name} joins in slot ${member.slot}${replacement.kill ? `, armed for ${replacement.kill.point}` : ''}`);
      continue;
    }
    if (code === 0) continue;
    for (const m of live) m.process.killGroup();
    throw new RunFailed(`member ${member.name} (slot ${member.slot}) of run ${info.run} failed on its own: ${signal ?? `exit code ${code}`}\n${member.process.stderrTail()}`);
  }
  if (plan.length > 0) {
    write(`  ${o.members} fresh members finish the input...`);
    const finals = Array.from({ length: o.members }, (_, slot) => start(slot, false));
    for (const m of finals) {
      await m.ended;
      const { code, signal } = await m.process.exited;
      if (code !== 0) throw new RunFailed(`final member ${m.name} of run ${info.run} failed: ${signal ?? `exit code ${code}`}\n${m.process.stderrTail()}`);
    }
  }
  return landed;
}
