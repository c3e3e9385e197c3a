import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

/** Starts a service process with its output in `logFile`; it dies with the process that started it. */
export function spawnService(command, args, { logFile, cwd, env } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', out, out] });
  const kill = () => child.exitCode === null && child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.removeListener('exit', kill));
  return child;
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child, graceMs = 10_000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  // The grace timer is cancelled once the child exits: left running it would keep the caller's
  // process alive for the whole grace period (vitest then reports a hanging global teardown).
  const grace = new AbortController();
  const timeout = sleep(graceMs, 'timeout', { signal: grace.signal }).catch(() => 'exited');
  const result = await Promise.race([exited.then(() => 'exited'), timeout]);
  grace.abort();
  if (result === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
}
