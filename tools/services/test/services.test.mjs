import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureServices, startPrivateService } from '../src/index.mjs';
import { hostPort, isPortOpen } from '../src/ports.mjs';

describe('service mechanism', () => {
  it('reuses the variable when it is set, and stops nothing it did not start', async () => {
    const before = process.env.REDIS_URL;
    process.env.REDIS_URL = before ?? 'redis://127.0.0.1:6379';
    const services = await ensureServices(['redis'], { log: () => {} });
    expect(services.env.REDIS_URL).toBe(process.env.REDIS_URL);
    await services.stop();
    const { host, port } = hostPort(process.env.REDIS_URL, 6379);
    expect(await isPortOpen(host, port)).toBe(true);
    if (before === undefined) delete process.env.REDIS_URL;
  });

  it('a private instance listens on its own port and is gone after stop()', async () => {
    const redis = await startPrivateService('redis', { log: () => {} });
    const { host, port } = hostPort(redis.url, 6379);
    expect(port).not.toBe(6379);
    expect(await isPortOpen(host, port)).toBe(true);
    await redis.stop();
    expect(await isPortOpen(host, port)).toBe(false);
  });

  it('the CLI rejects a bad command line with exit code 2', () => {
    const cli = fileURLToPath(new URL('../src/cli.mjs', import.meta.url));
    let status;
    try {
      execFileSync(process.execPath, [cli, 'dance'], { stdio: 'pipe' });
    } catch (error) {
      status = error.status;
    }
    expect(status).toBe(2);
  });
});
