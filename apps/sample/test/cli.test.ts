import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { describe, expect, it } from 'vitest';
import { runCli, workDir } from './support/cli.js';

describe('command line', () => {
  for (const [label, args, env, mention] of [
    ['a non-numeric flag', ['run', '--batch-interval', 'soon'], {}, 'whole number'],
    ['an unknown flag', ['run', '--bacth-interval', '5'], {}, 'unknown flag --bacth-interval'],
    ['an unknown checkpoint scheme', ['run', '--checkpoint', 'ftp://x/y'], {}, 'unknown scheme'],
    ['a checkpoint URI from the environment', ['run'], { MICROBATCH_CHECKPOINT: 'redis://host/notanumber' }, 'is not a number'],
    ['a sink that is not Postgres', ['run', '--sink', 'mysql://localhost/db'], {}, 'expected pglite:<dir> or postgres://'],
    ['a Kafka sink without a topic prefix', ['run', '--sink', 'kafka://localhost:9092'], {}, 'expected kafka://host:port[,host:port]/PREFIX'],
    ['kafka without brokers', ['run', '--source', 'kafka'], {}, '--brokers is required'],
    ['an unknown source', ['run', '--source', 'files'], {}, '--source is memory or kafka'],
    ['an unknown command', ['fly'], {}, 'unknown command'],
    ['a group on the embedded PGlite', ['run', '--workers', '2'], {}, 'a group needs a sink its members share'],
    ['a static member on the embedded PGlite', ['run', '--member', '0/2'], {}, 'a group needs a sink its members share'],
    ['--group over the generator', ['run', '--group', '--sink', 'postgres://localhost/x'], {}, '--group joins a Kafka consumer group'],
    ['a member index out of range', ['run', '--member', '2/2', '--sink', 'postgres://localhost/x'], {}, '--member is I/N'],
    ['crash-test --processes without Kafka', ['crash-test', '--processes', '2'], {}, '--processes runs a Kafka consumer group'],
  ] as const) {
    it(`${label}: says what is wrong and exits 2`, async () => {
      const { code, output } = await runCli(args, { env });
      expect(code).toBe(2);
      expect(output).toContain(mention);
      expect(output).toContain('--help');
    });
  }

  it('--help documents every flag and its MICROBATCH_* variable', async () => {
    const { code, output } = await runCli(['run', '--help']);
    expect(code).toBe(0);
    for (const flag of ['--source', '--events', '--checkpoint', '--sink', '--app-id', '--batch-interval', '--max-records-per-partition', '--until-idle']) {
      expect(output).toContain(flag);
    }
    expect(output).toContain('MICROBATCH_CHECKPOINT');
  });

  it('run then verify: OK; damaged tables make verify exit 1 naming what is missing, duplicated or wrong', async () => {
    const cwd = workDir();
    const shape = ['--events', '2000', '--partitions', '3', '--seed', '9'];
    const ran = await runCli(['run', ...shape, '--until-idle', '--batch-interval', '100', '--max-records-per-partition', '300', '--quiet'], { cwd });
    expect(ran.code, ran.output).toBe(0);
    expect(ran.output).toContain('records rejected');
    const ok = await runCli(['verify', ...shape], { cwd });
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain('verify: OK');

    const db = await PGlite.create(join(cwd, '.microbatch', 'pglite'));
    await db.exec(`
      DELETE FROM events_raw WHERE event_id = (SELECT min(event_id) FROM events_raw);
      UPDATE page_views SET views = views + 1 WHERE (page, minute) = (SELECT page, minute FROM page_views ORDER BY page, minute LIMIT 1);
      UPDATE user_totals SET amount = amount + 5 WHERE user_id = (SELECT min(user_id) FROM user_totals);
      DELETE FROM events_rejected WHERE source_offset = (SELECT min(source_offset) FROM events_rejected);`);
    await db.close();
    const bad = await runCli(['verify', ...shape], { cwd });
    expect(bad.code).toBe(1);
    expect(bad.output).toMatch(/events_raw .* 1 missing, 0 duplicated, 0 wrong/);
    expect(bad.output).toMatch(/page_views .* 0 missing, 1 duplicated, 0 wrong/);
    expect(bad.output).toMatch(/user_totals .* 0 missing, 0 duplicated, 1 wrong/);
    expect(bad.output).toMatch(/events_rejected .* 1 missing/);
    expect(bad.output).toContain('verify: FAILED');
  });
});
