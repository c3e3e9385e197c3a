import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Runs a tool, putting its stderr into the error (initdb's reasons are otherwise lost). */
function run(cmd, args) {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = error.stderr?.toString().trim();
    throw new Error(`${cmd} ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { cause: error });
  }
}

/**
 * PostgreSQL: usually already running on the machine. When not (or for a private instance a
 * test may restart), a throwaway cluster is made with initdb.
 */
export default {
  name: 'postgres',
  envVar: 'DATABASE_URL',
  defaultUrl: 'postgres://postgres@127.0.0.1:5432/test',
  defaultPort: 5432,
  async start({ port, log }) {
    // initdb and postgres refuse to run as root, so as root they run as the machine's postgres
    // user, who cannot enter root's home (mode 700): the cluster then lives under the temp dir.
    const asPostgres = process.getuid?.() === 0;
    const parent = asPostgres ? tmpdir() : cacheDir('run');
    const dir = mkdtempSync(join(parent, `microbatch-postgres-${port}-`));
    const data = join(dir, 'data');
    log(`initdb + postgres on 127.0.0.1:${port} in ${dir}`);
    const wrap = (tool, args) => (asPostgres ? ['runuser', ['-u', 'postgres', '--', tool, ...args]] : [tool, args]);
    if (asPostgres) {
      execFileSync('chown', ['postgres', dir]);
      chmodSync(dir, 0o700);
    }
    run(...wrap(postgresBin('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']));

    let child;
    const launch = async () => {
      const [cmd, args] = wrap(postgresBin('postgres'), [
        '-D', data, '-p', String(port), '-h', '127.0.0.1', '-k', dir, '-c', 'fsync=off', '-c', 'max_connections=200',
      ]);
      child = spawnService(cmd, args, { logFile: join(dir, 'postgres.log') });
      await waitForPort('127.0.0.1', port, { child, what: 'postgres' });
    };
    // SIGINT is postgres' "fast" shutdown: it ends open sessions instead of waiting for clients
    // to leave (SIGTERM, "smart", would wait for every pooled connection). The postmaster may run
    // under runuser, so it is signalled by the pid it wrote. Waiting for the exit means the port
    // and the data directory are free again when this resolves.
    const halt = async () => {
      try {
        const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        if (pid > 0) process.kill(pid, 'SIGINT');
      } catch {
        // No pid file or no such process: the server is already down; stopChild still reaps it.
      }
      await stopChild(child);
    };

    await launch();
    const [createCmd, createArgs] = wrap(postgresBin('createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'test']);
    for (let i = 0; ; i++) {
      try {
        run(createCmd, createArgs);
        break;
      } catch (error) {
        if (i > 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    let stopped = false;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/test`,
      /**
       * Stops the server and starts it again on the same port and data, after `downMs` (default 0)
       * with nothing listening: what a restart or failover looks like to clients.
       */
      async restart({ downMs = 0 } = {}) {
        await halt();
        await new Promise((resolve) => setTimeout(resolve, downMs));
        await launch();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await halt();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
