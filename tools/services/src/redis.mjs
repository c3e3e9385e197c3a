import { cacheDir } from './paths.mjs';
import { spawnService, stopChild } from './process.mjs';
import { waitForPort } from './ports.mjs';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';

/** Redis: usually already running on the machine; started from the redis-server binary when not. */
export default {
  name: 'redis',
  envVar: 'REDIS_URL',
  defaultUrl: 'redis://127.0.0.1:6379',
  defaultPort: 6379,
  async start({ port, log }) {
    const dir = mkdtempSync(join(cacheDir('run'), `redis-${port}-`));
    log(`starting redis-server on 127.0.0.1:${port}`);
    const child = spawnService(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
      { logFile: join(dir, 'redis.log') },
    );
    await waitForPort('127.0.0.1', port, { child, what: 'redis-server' });
    return { url: `redis://127.0.0.1:${port}`, stop: () => stopChild(child) };
  },
};
