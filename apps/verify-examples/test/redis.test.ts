import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redisSnapshot, verifyPipeline } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';

// Any program works as the app; this one is not even built on microbatch (so no kill can be aimed
// at it: kills 0), which tests the Redis snapshot helper and the comparison on their own.
const ioredis = createRequire(import.meta.url).resolve('ioredis');
function writerApp(extraKeyInRunB: boolean): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'verify-redis-'));
  const script = join(dir, 'writer.cjs');
  writeFileSync(
    script,
    `const { Redis } = require(${JSON.stringify(ioredis)});
const r = new Redis(process.env.REDIS_URL);
const t = process.env.MICROBATCH_VERIFY_TARGET;
(async () => {
  await r.set(t + ':total', '42');
  await r.hset(t + ':user:1', { events: '3', amount: '17' });
  await r.rpush(t + ':log', 'a', 'b');
  await r.sadd(t + ':pages', 'p2', 'p1');
  if (${extraKeyInRunB} && process.env.MICROBATCH_VERIFY_RUN === 'b') await r.set(t + ':stray', 'x');
  await r.quit();
})();`,
  );
  return [process.execPath, script];
}

describe('redisSnapshot', () => {
  const snapshot = () => redisSnapshot({ url: process.env.REDIS_URL!, pattern: '{target}:*' });
  const prefix = () => `verify_redis_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

  it('reads every type under the run target, with the target written back as {target}, and finds two equal runs identical', async () => {
    const targetPrefix = prefix();
    const report = await verifyPipeline({ app: writerApp(false), snapshot: snapshot(), key: ['key'], kills: 0, targetPrefix });
    expect(report.ok).toBe(true);
    expect(report.diff?.rowsA).toBe(4);
    const rows = await snapshot()({ run: 'a', target: `${targetPrefix}_a`, dir: '', env: {} });
    expect(rows).toEqual([
      { key: '{target}:log', type: 'list', value: ['a', 'b'] },
      { key: '{target}:pages', type: 'set', value: ['p1', 'p2'] },
      { key: '{target}:total', type: 'string', value: '42' },
      { key: '{target}:user:1', type: 'hash', value: { events: '3', amount: '17' } },
    ]);
  });

  it('shows a key only the second run wrote', async () => {
    const report = await verifyPipeline({ app: writerApp(true), snapshot: snapshot(), key: ['key'], kills: 0, targetPrefix: prefix() });
    expect(report.ok).toBe(false);
    expect(report.diff?.unexpected).toEqual([{ key: 'key="{target}:stray"', rows: [{ key: '{target}:stray', type: 'string', value: 'x' }] }]);
    expect(report.text).toContain('only in B (1):\n  key="{target}:stray"');
  });
});
