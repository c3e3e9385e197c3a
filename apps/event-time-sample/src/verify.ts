import type pg from 'pg';
import type { LateRow, WindowRow } from './expected.js';

export interface TableReport {
  readonly table: string;
  readonly expected: number;
  readonly missing: string[];
  readonly duplicated: string[];
  readonly wrong: string[];
  readonly unexpected: string[];
}

/** Compares rows keyed by `id` with what is expected: every key exactly once with the right value, nothing else. */
export function compare(table: string, expected: Map<string, string>, actual: Array<[string, string]>): TableReport {
  const seen = new Map<string, string[]>();
  for (const [id, value] of actual) seen.set(id, [...(seen.get(id) ?? []), value]);
  const report = { table, expected: expected.size, missing: [] as string[], duplicated: [] as string[], wrong: [] as string[], unexpected: [] as string[] };
  for (const [id, value] of expected) {
    const got = seen.get(id);
    if (!got) report.missing.push(id);
    else if (got.length > 1) report.duplicated.push(id);
    else if (got[0] !== value) report.wrong.push(`${id}: ${got[0]} instead of ${value}`);
  }
  for (const id of seen.keys()) if (!expected.has(id)) report.unexpected.push(id);
  return report;
}

export async function verifyTables(pool: pg.Pool, expected: { windows: WindowRow[]; late: LateRow[] }, windowMs: number): Promise<TableReport[]> {
  const windows = await pool.query<{ page: string; window_start: string; window_end: string; views: string }>('SELECT page, window_start, window_end, views FROM window_counts');
  const late = await pool.query<{ event_id: string; ts: string; watermark: string }>('SELECT event_id, ts, watermark FROM late_events');
  return [
    compare(
      'window_counts',
      new Map(expected.windows.map((w) => [`${w.page}@${w.start}`, String(w.views)])),
      windows.rows.map((r) => [`${r.page}@${r.window_start}`, Number(r.window_end) - Number(r.window_start) === windowMs ? r.views : `end ${r.window_end}`]),
    ),
    compare(
      'late_events',
      new Map(expected.late.map((l) => [l.id, `${l.ts}<=${l.watermark}`])),
      late.rows.map((r) => [r.event_id, `${r.ts}<=${r.watermark}`]),
    ),
  ];
}
