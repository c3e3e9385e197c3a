import { classify, parseJson } from './events.js';
import { rawRecord, recordsInPartition, type Shape } from './generate.js';

export interface ExpectedTables {
  /** event_id -> row */
  readonly eventsRaw: Map<string, { user_id: string; page: string; amount: number; ts: number; source_partition: number; source_offset: number }>;
  /** `${page}|${minute}` -> views */
  readonly pageViews: Map<string, number>;
  /** user_id -> totals */
  readonly userTotals: Map<string, { events: number; amount: number }>;
  /** `${partition}|${offset}` -> rejection */
  readonly rejected: Map<string, { reason: string; raw: string }>;
}

/** What the four output tables must hold after every event of `shape` was processed exactly once. */
export function expectedTables(shape: Shape): ExpectedTables {
  const tables: ExpectedTables = { eventsRaw: new Map(), pageViews: new Map(), userTotals: new Map(), rejected: new Map() };
  for (let partition = 0; partition < shape.partitions; partition++) {
    const count = recordsInPartition(shape, partition);
    for (let offset = 0; offset < count; offset++) {
      const raw = rawRecord(shape, partition, offset);
      const c = classify(partition, offset, raw, parseJson(raw));
      if (c.kind === 'rejected') {
        tables.rejected.set(`${partition}|${offset}`, { reason: c.reason, raw: c.raw });
        continue;
      }
      const e = c.event;
      tables.eventsRaw.set(e.id, { user_id: e.user, page: e.page, amount: e.amount, ts: e.ts, source_partition: partition, source_offset: offset });
      const pv = `${e.page}|${Math.floor(e.ts / 60_000)}`;
      tables.pageViews.set(pv, (tables.pageViews.get(pv) ?? 0) + 1);
      const t = tables.userTotals.get(e.user) ?? { events: 0, amount: 0 };
      tables.userTotals.set(e.user, { events: t.events + 1, amount: t.amount + e.amount });
    }
  }
  return tables;
}
