import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ensureServices, startPrivateService } from '../src/index.mjs';
import { DEFAULT_KAFKA_VERSION, kafkaVersion } from '../src/kafka.mjs';
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

  it('the Kafka version: explicit, then KAFKA_VERSION, then the older MICROBATCH_KAFKA_VERSION, then the default', () => {
    const saved = { KAFKA_VERSION: process.env.KAFKA_VERSION, MICROBATCH_KAFKA_VERSION: process.env.MICROBATCH_KAFKA_VERSION };
    try {
      delete process.env.KAFKA_VERSION;
      delete process.env.MICROBATCH_KAFKA_VERSION;
      expect(kafkaVersion()).toBe(DEFAULT_KAFKA_VERSION);
      process.env.MICROBATCH_KAFKA_VERSION = '4.0.1';
      expect(kafkaVersion()).toBe('4.0.1');
      process.env.KAFKA_VERSION = '4.1.2';
      expect(kafkaVersion()).toBe('4.1.2');
      expect(kafkaVersion('3.9.1')).toBe('3.9.1');
      process.env.KAFKA_VERSION = 'latest';
      expect(() => kafkaVersion()).toThrow(/not "<major>.<minor>.<patch>"/);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
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
