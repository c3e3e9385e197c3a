import type { Database } from '@microbatch/sink-postgres';
import { compareOutputs, type TableReport } from '../compare.js';
import { expectedTables, type ExpectedTables } from '../expected.js';
import { createDefaultLogger } from '@microbatch/core';
import { helpText, parseFlags, shapeFlags, sinkFrom, type FlagSpec } from '../options.js';
import { compareTopics } from '../kafka-verify.js';
import { openDatabase } from '../resources.js';
import type { SinkSpec } from '../uris.js';

export const verifyFlags: FlagSpec[] = [
  { name: 'sink', kind: 'string', default: 'pglite:.microbatch/pglite', help: 'pglite:<dir> | postgres://... | kafka://host:port/PREFIX (topics read read_committed)' },
  ...shapeFlags,
];

export const verifyHelp = helpText('verify', 'compare the four tables (or topics) with what N events and the seed must give; exit 1 on any difference', verifyFlags);

export type { TableReport } from '../compare.js';

export async function verify(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const o = parseFlags(argv, verifyFlags);
  const shape = { events: o.events as number, partitions: o.partitions as number, seed: o.seed as number };
  const reports = await compareSink(sinkFrom(o.sink as string), expectedTables(shape));
  for (const r of reports) write(formatReport(r));
  const ok = reports.every((r) => r.missing.length + r.duplicated.length + r.wrong.length === 0);
  write(ok ? 'verify: OK, every table is exactly as expected' : 'verify: FAILED');
  return ok ? 0 : 1;
}

/** The four outputs of a sink (tables, or topics read read_committed) compared with what the events must give. */
export async function compareSink(spec: SinkSpec, expected: ExpectedTables): Promise<TableReport[]> {
  if (spec.kind === 'kafka') return compareTopics(spec, expected);
  const database = await openDatabase(spec, createDefaultLogger());
  try {
    return await compareTables(database.db, expected);
  } finally {
    await database.close();
  }
}

function formatReport(r: TableReport): string {
  const sample = (xs: string[]) => (xs.length === 0 ? '' : `  e.g. ${xs.slice(0, 3).join('; ')}`);
  return [
    `${r.table.padEnd(16)} expected ${r.expected}: ${r.missing.length} missing, ${r.duplicated.length} duplicated, ${r.wrong.length} wrong`,
    r.missing.length ? `  missing:${sample(r.missing)}` : '',
    r.duplicated.length ? `  duplicated:${sample(r.duplicated)}` : '',
    r.wrong.length ? `  wrong:${sample(r.wrong)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
}

/** The four tables, compared row by row. */
export async function compareTables(db: Database, expected: ExpectedTables): Promise<TableReport[]> {
  const raw = await db.query<{ event_id: string; user_id: string; page: string; amount: string; ts: string; source_partition: number; source_offset: string }>(
    'SELECT event_id, user_id, page, amount::text, ts::text, source_partition, source_offset::text FROM events_raw',
  );
  const views = await db.query<{ page: string; minute: string; views: string }>('SELECT page, minute::text, views::text FROM page_views');
  const users = await db.query<{ user_id: string; events: string; amount: string }>('SELECT user_id, events::text, amount::text FROM user_totals');
  const rejected = await db.query<{ source_partition: number; source_offset: string; reason: string; raw: string }>(
    'SELECT source_partition, source_offset::text, reason, raw FROM events_rejected',
  );
  return compareOutputs(
    {
      eventsRaw: raw.rows.map((r) => ({ ...r, amount: Number(r.amount), ts: Number(r.ts), source_partition: Number(r.source_partition), source_offset: Number(r.source_offset) })),
      pageViews: views.rows.map((r) => ({ page: r.page, minute: Number(r.minute), views: Number(r.views) })),
      userTotals: users.rows.map((r) => ({ user_id: r.user_id, events: Number(r.events), amount: Number(r.amount) })),
      rejected: rejected.rows.map((r) => ({ ...r, source_partition: Number(r.source_partition), source_offset: Number(r.source_offset) })),
    },
    expected,
  );
}
