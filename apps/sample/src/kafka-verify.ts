import { compareOutputs, type EventRow, type OutputRows, type PageViewRow, type RejectedRow, type TableReport, type UserTotalsRow } from './compare.js';
import type { ExpectedTables } from './expected.js';
import { outputTopics } from './kafka-outputs.js';
import { readTopic, type TopicEntry } from './kafka-topics.js';
import type { Totals } from './summary.js';
import type { KafkaSinkSpec } from './uris.js';

const values = <T>(entries: readonly TopicEntry[]): T[] => entries.map((e) => JSON.parse(e.value ?? 'null') as T);

/**
 * The four output topics read back read_committed, as the rows the tables would hold:
 * events_raw and events_rejected are every record (a record twice is a duplicate), page_views
 * the sum of the deltas per (page, minute), user_totals the last record per user (a key lives in
 * one partition, read in offset order, so the last is the newest total).
 */
export async function readOutputRows(spec: KafkaSinkSpec): Promise<OutputRows> {
  const topics = outputTopics(spec.prefix);
  const [raw, views, users, rejected] = await Promise.all([topics.eventsRaw, topics.pageViews, topics.userTotals, topics.eventsRejected].map((t) => readTopic(spec, t)));
  const sums = new Map<string, PageViewRow>();
  for (const delta of values<PageViewRow>(views!)) {
    const key = JSON.stringify([delta.page, delta.minute]);
    sums.set(key, { page: delta.page, minute: delta.minute, views: (sums.get(key)?.views ?? 0) + delta.views });
  }
  const last = new Map<string, UserTotalsRow>();
  for (const row of values<UserTotalsRow>(users!)) last.set(row.user_id, row);
  return { eventsRaw: values<EventRow>(raw!), pageViews: [...sums.values()], userTotals: [...last.values()], rejected: values<RejectedRow>(rejected!) };
}

/** The four topics compared with what the events must give, as `compareTables` does for the tables. */
export async function compareTopics(spec: KafkaSinkSpec, expected: ExpectedTables): Promise<TableReport[]> {
  return compareOutputs(await readOutputRows(spec), expected);
}

/** The run's closing summary, from the topics. */
export async function topicTotals(spec: KafkaSinkSpec): Promise<Totals> {
  const rows = await readOutputRows(spec);
  const perPage = new Map<string, number>();
  for (const v of rows.pageViews) perPage.set(v.page, (perPage.get(v.page) ?? 0) + v.views);
  const topPages = [...perPage].map(([page, views]) => ({ page, views })).sort((a, b) => b.views - a.views || (a.page < b.page ? -1 : 1)).slice(0, 5);
  return {
    events: rows.eventsRaw.length,
    rejected: rows.rejected.length,
    users: rows.userTotals.length,
    views: rows.pageViews.reduce((n, v) => n + v.views, 0),
    topPages,
  };
}
