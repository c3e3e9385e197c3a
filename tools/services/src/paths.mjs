import { homedir } from 'node:os';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

/** Downloads and service data live outside the repository, shared by every clone on the machine. */
export function cacheDir(...parts) {
  const base = process.env.MICROBATCH_CACHE ?? join(homedir(), '.cache', 'microbatch');
  const dir = join(base, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}
