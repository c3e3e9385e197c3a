import { spawnMember, signalAll, type Member } from './members.js';

/** `run`'s own argv without `--workers N` (either form), for a member's command line. */
export function withoutFlag(argv: readonly string[], flag: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${flag}`) i++;
    else if (!argv[i]!.startsWith(`--${flag}=`)) out.push(argv[i]!);
  }
  return out;
}

/**
 * `run --workers N`: N member processes on this machine, each a `run` of the same application
 * (`memberArgs(i)` gives member i's flags: `--group`, or `--member i/N`). Every line a member
 * prints is prefixed with `[w<i>]`. SIGINT and SIGTERM are forwarded, so the members stop
 * gracefully; resolves when all have exited: 0 when every member exited 0, else 1.
 */
export async function runWorkers(n: number, memberArgs: (i: number) => string[], write: (line: string) => void): Promise<number> {
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const member = spawnMember(`w${i}`, memberArgs(i));
    member.onLine((line) => write(`[w${i}] ${line}`));
    members.push(member);
  }
  const forward = (signal: NodeJS.Signals) => signalAll(members, signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    const ends = await Promise.all(members.map((m) => m.exited));
    const failed = ends.map((e, i) => ({ ...e, i })).filter((e) => e.code !== 0);
    for (const f of failed) write(`member w${f.i} failed: ${f.signal ? `killed by ${f.signal}` : `exit code ${f.code}`}`);
    write(failed.length === 0 ? `all ${n} members finished` : `${failed.length} of ${n} members failed`);
    return failed.length === 0 ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', forward);
    process.removeListener('SIGTERM', forward);
  }
}
