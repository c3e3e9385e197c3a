import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { MicrobatchError } from '@microbatch/core';

/** A lock file older than this whose owner cannot be identified (crash between create and write) is stale. */
const UNREADABLE_STALE_MS = 5_000;

export interface LockOptions {
  /** Give up with CHECKPOINT_STORE_UNAVAILABLE after waiting this long. */
  timeoutMs: number;
}

/**
 * Runs `fn` while holding an exclusive-create lock file (O_CREAT|O_EXCL is atomic on local
 * filesystems). The file names its owner's pid and host; a lock whose owner process on this
 * host is gone (killed mid-write, say) is broken, so a SIGKILL never wedges the directory.
 */
export async function withLockFile<T>(path: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  const token = `${process.pid}\n${hostname()}\n${randomBytes(8).toString('hex')}\n`;
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(token);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
    }
    if (await breakIfStale(path)) continue;
    if (Date.now() > deadline) {
      const owner = await readFile(path, 'utf8').catch(() => '');
      throw new MicrobatchError('CHECKPOINT_STORE_UNAVAILABLE', `Timed out after ${options.timeoutMs} ms waiting for lock ${path}`, {
        details: { path, owner: owner.split('\n').slice(0, 2).join('@') },
      });
    }
    await sleep(Math.min(2 + attempt * 2, 25));
  }
  try {
    return await fn();
  } finally {
    // Only remove the lock if it is still ours; never throw over fn's own error for a lost lock file.
    const current = await readFile(path, 'utf8').catch(() => undefined);
    if (current === token) await unlink(path);
  }
}

/** Removes the lock when its owner is provably dead; true if it did (or the lock vanished meanwhile). */
async function breakIfStale(path: string): Promise<boolean> {
  const seen = await readOwner(path);
  if (seen === undefined) return true;
  if (!isStale(seen)) return false;
  // Breakers serialise on their own exclusive file, so two of them cannot both delete "the"
  // stale lock when one of them would in fact be deleting a fresh lock taken in between.
  const breaker = `${path}.break`;
  let handle;
  try {
    handle = await open(breaker, 'wx');
  } catch (error) {
    if (!hasCode(error, 'EEXIST')) throw error;
    const age = await stat(breaker).then((s) => Date.now() - s.mtimeMs, () => 0);
    if (age > UNREADABLE_STALE_MS) await unlink(breaker).catch(ignoreMissing);
    return false;
  }
  try {
    const again = await readOwner(path);
    if (again !== undefined && again.content === seen.content) await unlink(path).catch(ignoreMissing);
    return true;
  } finally {
    await handle.close();
    await unlink(breaker).catch(ignoreMissing);
  }
}

interface Owner {
  content: string;
  pid: number;
  host: string;
  ageMs: number;
}

async function readOwner(path: string): Promise<Owner | undefined> {
  try {
    const [content, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    const [pid, host] = content.split('\n');
    return { content, pid: Number(pid), host: host ?? '', ageMs: Date.now() - info.mtimeMs };
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

function isStale(owner: Owner): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0 || owner.host === '') return owner.ageMs > UNREADABLE_STALE_MS;
  if (owner.host !== hostname() || owner.pid === process.pid) return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else, so it is alive.
    return hasCode(error, 'ESRCH');
  }
}

export function hasCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}

export function ignoreMissing(error: unknown): void {
  if (!hasCode(error, 'ENOENT')) throw error;
}
