import type { ExpectedTables } from './expected.js';

/** How one output differs from what the events must give. */
export interface TableReport {
  table: string;
  expected: number;
  missing: string[];
  duplicated: string[];
  wrong: string[];
}

export interface EventRow {
  readonly event_id: string;
  readonly user_id: string;
  readonly page: string;
  readonly amount: number;
  readonly ts: number;
  readonly source_partition: number;
  readonly source_offset: number;
}
export interface PageViewRow {
  readonly page: string;
  readonly minute: number;
  readonly views: number;
}
export interface UserTotalsRow {
  readonly user_id: string;
  readonly events: number;
  readonly amount: number;
}
export interface RejectedRow {
  readonly source_partition: number;
  readonly source_offset: number;
  readonly reason: string;
  readonly raw: string;
}

/** The rows of the four outputs, read from tables or topics. */
export interface OutputRows {
  readonly eventsRaw: readonly EventRow[];
  readonly pageViews: readonly PageViewRow[];
  readonly userTotals: readonly UserTotalsRow[];
  readonly rejected: readonly RejectedRow[];
}

const report = (table: string, size: number): TableReport => ({ table, expected: size, missing: [], duplicated: [], wrong: [] });

/**
 * Row by row. Where a key must be unique (a table's primary key) a duplicated effect shows as a
 * count that is too high; a log (a topic) can also hold the same record twice, which shows as a duplicate.
 */
export function compareOutputs(rows: OutputRows, expected: ExpectedTables): TableReport[] {
  const raw = report('events_raw', expected.eventsRaw.size);
  const seen = new Set<string>();
  for (const row of rows.eventsRaw) {
    const want = expected.eventsRaw.get(row.event_id);
    if (seen.has(row.event_id)) raw.duplicated.push(row.event_id);
    seen.add(row.event_id);
    if (!want) raw.wrong.push(`${row.event_id} is not an expected event`);
    else if (
      want.user_id !== row.user_id || want.page !== row.page || want.amount !== row.amount || want.ts !== row.ts ||
      want.source_partition !== row.source_partition || want.source_offset !== row.source_offset
    ) raw.wrong.push(`${row.event_id} differs`);
  }
  for (const id of expected.eventsRaw.keys()) if (!seen.has(id)) raw.missing.push(id);

  const views = report('page_views', expected.pageViews.size);
  const viewSeen = new Set<string>();
  for (const row of rows.pageViews) {
    const key = `${row.page}|${row.minute}`;
    viewSeen.add(key);
    const want = expected.pageViews.get(key);
    if (want === undefined) views.wrong.push(`${key} not expected`);
    else if (row.views > want) views.duplicated.push(`${key}: ${row.views} views, expected ${want}`);
    else if (row.views < want) views.missing.push(`${key}: ${row.views} views, expected ${want}`);
  }
  for (const key of expected.pageViews.keys()) if (!viewSeen.has(key)) views.missing.push(`${key}: no row`);

  const users = report('user_totals', expected.userTotals.size);
  const userSeen = new Set<string>();
  for (const row of rows.userTotals) {
    userSeen.add(row.user_id);
    const want = expected.userTotals.get(row.user_id);
    if (!want) users.wrong.push(`${row.user_id} not expected`);
    else if (row.events > want.events) users.duplicated.push(`${row.user_id}: ${row.events} events, expected ${want.events}`);
    else if (row.events < want.events) users.missing.push(`${row.user_id}: ${row.events} events, expected ${want.events}`);
    else if (row.amount !== want.amount) users.wrong.push(`${row.user_id}: amount ${row.amount}, expected ${want.amount}`);
  }
  for (const user of expected.userTotals.keys()) if (!userSeen.has(user)) users.missing.push(`${user}: no row`);

  const rejected = report('events_rejected', expected.rejected.size);
  const rejectedSeen = new Set<string>();
  for (const row of rows.rejected) {
    const key = `${row.source_partition}|${row.source_offset}`;
    if (rejectedSeen.has(key)) rejected.duplicated.push(key);
    rejectedSeen.add(key);
    const want = expected.rejected.get(key);
    if (!want) rejected.wrong.push(`${key} not expected`);
    else if (want.reason !== row.reason || want.raw !== row.raw) rejected.wrong.push(`${key}: "${row.reason}", expected "${want.reason}"`);
  }
  for (const key of expected.rejected.keys()) if (!rejectedSeen.has(key)) rejected.missing.push(key);

  return [raw, views, users, rejected];
}
