import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { spawnService, stopChild } from '../../../../tools/services/src/process.mjs';
// @ts-expect-error -- as above
import { freePort, waitForPort } from '../../../../tools/services/src/ports.mjs';

export interface PersistentRedis {
  readonly url: string;
  /** Stops the server (SIGTERM: it finishes its append-only file) and starts it again on the same port and data. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private redis-server with the append-only file on (fsync always), so a restart keeps its
 * data as a production Redis would. The services tool's private Redis runs without persistence,
 * which is right for the warning test but would make every restart look like data loss here.
 */
export async function startPersistentRedis(): Promise<PersistentRedis> {
  const port: number = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'microbatch-redis-aof-'));
  const launch = async () => {
    const child = spawnService(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''],
      { logFile: join(dir, 'redis.log') },
    );
    await waitForPort('127.0.0.1', port, { child, what: 'redis-server (persistent)' });
    return child;
  };
  let child = await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    async restart(downMs) {
      await stopChild(child);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      child = await launch();
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
