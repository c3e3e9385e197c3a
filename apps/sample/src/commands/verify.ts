import type { Database } from '@microbatch/sink-postgres';
import { expectedTables, type ExpectedTables } from '../expected.js';
import { createDefaultLogger } from '@microbatch/core';
import { helpText, parseFlags, shapeFlags, sinkFrom, type FlagSpec } from '../options.js';
import { openDatabase } from '../resources.js';

export const verifyFlags: FlagSpec[] = [
  { name: 'sink', kind: 'string', default: 'pglite:.microbatch/pglite', help: 'pglite:<dir> | postgres://...' },
  ...shapeFlags,
];

export const verifyHelp = helpText('verify', 'compare the four tables with what N events and the seed must give; exit 1 on any difference', verifyFlags);

export interface TableReport {
  table: string;
  expected: number;
  missing: string[];
  duplicated: string[];
  wrong: string[];
}

export async function verify(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const o = parseFlags(argv, verifyFlags);
  const shape = { events: o.events as number, partitions: o.partitions as number, seed: o.seed as number };
  const database = await openDatabase(sinkFrom(o.sink as string), createDefaultLogger());
  try {
    const reports = await compareTables(database.db, expectedTables(shape));
    for (const r of reports) write(formatReport(r));
    const ok = reports.every((r) => r.missing.length + r.duplicated.length + r.wrong.length === 0);
    write(ok ? 'verify: OK, every table is exactly as expected' : 'verify: FAILED');
    return ok ? 0 : 1;
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

/** Row by row. Primary keys rule out duplicate rows, so a duplicated effect shows as a count that is too high. */
export async function compareTables(db: Database, expected: ExpectedTables): Promise<TableReport[]> {
  const report = (table: string, size: number): TableReport => ({ table, expected: size, missing: [], duplicated: [], wrong: [] });

  const raw = report('events_raw', expected.eventsRaw.size);
  const rawRows = await db.query<{ event_id: string; user_id: string; page: string; amount: string; ts: string; source_partition: number; source_offset: string }>(
    'SELECT event_id, user_id, page, amount::text, ts::text, source_partition, source_offset::text FROM events_raw',
  );
  const seen = new Set<string>();
  for (const row of rawRows.rows) {
    const want = expected.eventsRaw.get(row.event_id);
    if (seen.has(row.event_id)) raw.duplicated.push(row.event_id);
    seen.add(row.event_id);
    if (!want) raw.wrong.push(`${row.event_id} is not an expected event`);
    else if (
      want.user_id !== row.user_id || want.page !== row.page || want.amount !== Number(row.amount) || want.ts !== Number(row.ts) ||
      want.source_partition !== Number(row.source_partition) || want.source_offset !== Number(row.source_offset)
    ) raw.wrong.push(`${row.event_id} differs`);
  }
  for (const id of expected.eventsRaw.keys()) if (!seen.has(id)) raw.missing.push(id);

  const views = report('page_views', expected.pageViews.size);
  const viewRows = await db.query<{ page: string; minute: string; views: string }>('SELECT page, minute::text, views::text FROM page_views');
  const viewSeen = new Set<string>();
  for (const row of viewRows.rows) {
    const key = `${row.page}|${row.minute}`;
    viewSeen.add(key);
    const want = expected.pageViews.get(key);
    const got = Number(row.views);
    if (want === undefined) views.wrong.push(`${key} not expected`);
    else if (got > want) views.duplicated.push(`${key}: ${got} views, expected ${want}`);
    else if (got < want) views.missing.push(`${key}: ${got} views, expected ${want}`);
  }
  for (const key of expected.pageViews.keys()) if (!viewSeen.has(key)) views.missing.push(`${key}: no row`);

  const users = report('user_totals', expected.userTotals.size);
  const userRows = await db.query<{ user_id: string; events: string; amount: string }>('SELECT user_id, events::text, amount::text FROM user_totals');
  const userSeen = new Set<string>();
  for (const row of userRows.rows) {
    userSeen.add(row.user_id);
    const want = expected.userTotals.get(row.user_id);
    const events = Number(row.events);
    if (!want) users.wrong.push(`${row.user_id} not expected`);
    else if (events > want.events) users.duplicated.push(`${row.user_id}: ${events} events, expected ${want.events}`);
    else if (events < want.events) users.missing.push(`${row.user_id}: ${events} events, expected ${want.events}`);
    else if (Number(row.amount) !== want.amount) users.wrong.push(`${row.user_id}: amount ${row.amount}, expected ${want.amount}`);
  }
  for (const user of expected.userTotals.keys()) if (!userSeen.has(user)) users.missing.push(`${user}: no row`);

  const rejected = report('events_rejected', expected.rejected.size);
  const rejectedRows = await db.query<{ source_partition: number; source_offset: string; reason: string; raw: string }>(
    'SELECT source_partition, source_offset::text, reason, raw FROM events_rejected',
  );
  const rejectedSeen = new Set<string>();
  for (const row of rejectedRows.rows) {
    const key = `${row.source_partition}|${row.source_offset}`;
    rejectedSeen.add(key);
    const want = expected.rejected.get(key);
    if (!want) rejected.wrong.push(`${key} not expected`);
    else if (want.reason !== row.reason || want.raw !== row.raw) rejected.wrong.push(`${key}: "${row.reason}", expected "${want.reason}"`);
  }
  for (const key of expected.rejected.keys()) if (!rejectedSeen.has(key)) rejected.missing.push(key);

  return [raw, views, users, rejected];
}
