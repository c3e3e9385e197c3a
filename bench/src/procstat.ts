// Parent side of scenario 8: CPU time of processes from /proc, to say how much of the machine
// Kafka and PostgreSQL took while the members ran (they share the two cores with them).
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ): 100 on every Linux the bench runs on. */
const TICKS_PER_SEC = 100;

function readOr(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the command (which may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  const text = readOr(`/proc/${pid}/stat`);
  if (!text) return undefined;
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/**
 * user + system CPU seconds of one process (all its threads); with `reaped`, also those of its
 * children that exited and were waited for (cutime, cstime).
 */
export function cpuSecondsOf(pid: number, reaped = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  // After the command: state is field 3 of stat, so utime (14), stime (15), cutime (16) and
  // cstime (17) are at 11 to 14 here.
  const own = Number(f[11]) + Number(f[12]);
  return (reaped ? own + Number(f[13]) + Number(f[14]) : own) / TICKS_PER_SEC;
}

const allPids = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);

/** The process and all its live descendants (PostgreSQL runs a backend process per connection). */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const pid of allPids()) {
    const f = statFields(pid);
    if (f) parent.set(pid, Number(f[1]));
  }
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** The pid listening on 127.0.0.1:port (or any address), from /proc/net/tcp and the processes' socket fds. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (readOr(table) ?? '').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN.
      if (cols.length > 9 && cols[3] === '0A' && Number.parseInt(cols[1]!.split(':')[1]!, 16) === port) inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of allPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) return pid;
      } catch {
        // The fd closed meanwhile.
      }
    }
  }
  return undefined;
}

/** The service behind a URL's port: its process tree's CPU seconds, re-read each time (backends come and go). */
export function serviceCpu(port: number): { pid: number | undefined; cpuSeconds: () => number } {
  const pid = pidListeningOn(port);
  // The root's reaped children count: PostgreSQL's postmaster waits for every backend that exits,
  // so a connection closed during the run still counts; live backends are read one by one.
  return {
    pid,
    cpuSeconds: () => (pid === undefined ? Number.NaN : processTree(pid).reduce((sum, p) => sum + cpuSecondsOf(p, p === pid), 0)),
  };
}

/** Busy and total CPU seconds of the whole machine since boot, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const cpu = (readOr('/proc/stat') ?? '').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  const total = cpu.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - idle) / TICKS_PER_SEC, total: total / TICKS_PER_SEC };
}
