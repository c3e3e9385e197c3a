import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './paths.mjs';
import { spawnService, stopChild } from './process.mjs';
import { waitForPort } from './ports.mjs';

function postgresBin(tool) {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const version of versions) {
    const candidate = join(root, version, 'bin', tool);
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`PostgreSQL's ${tool} was not found under ${root}; install Debian's postgresql package or set DATABASE_URL`);
}

/**
 * PostgreSQL: usually already running on the machine. When not (or for a private instance a
 * test may restart), a throwaway cluster is made with initdb in the cache folder.
 */
export default {
  name: 'postgres',
  envVar: 'DATABASE_URL',
  defaultUrl: 'postgres://postgres@127.0.0.1:5432/test',
  defaultPort: 5432,
  async start({ port, log }) {
    const dir = mkdtempSync(join(cacheDir('run'), `postgres-${port}-`));
    const data = join(dir, 'data');
    log(`initdb + postgres on 127.0.0.1:${port}`);
    // initdb and postgres refuse to run as root; the machine's postgres user owns the files then.
    const asPostgres = process.getuid?.() === 0;
    const wrap = (tool, args) => (asPostgres ? ['runuser', ['-u', 'postgres', '--', tool, ...args]] : [tool, args]);
    if (asPostgres) execFileSync('chown', ['postgres', dir]);
    const [initCmd, initArgs] = wrap(postgresBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
    execFileSync(initCmd, initArgs, { stdio: 'ignore' });
    const [cmd, args] = wrap(postgresBin('postgres'), [
      '-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=200',
    ]);
    const child = spawnService(cmd, args, { logFile: join(dir, 'postgres.log') });
    await waitForPort('127.0.0.1', port, { child, what: 'postgres' });
    const [createCmd, createArgs] = wrap(postgresBin('createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'test']);
    for (let i = 0; ; i++) {
      try {
        execFileSync(createCmd, createArgs, { stdio: 'ignore' });
        break;
      } catch (error) {
        if (i > 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return { url: `postgres://postgres@127.0.0.1:${port}/test`, stop: () => stopChild(child) };
  },
};
