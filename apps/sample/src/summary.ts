import type { Database } from '@microbatch/sink-postgres';

export interface Totals {
  events: number;
  rejected: number;
  users: number;
  views: number;
  topPages: Array<{ page: string; views: number }>;
}

export async function readTotals(db: Database): Promise<Totals> {
  const one = async (sql: string) => Number(Object.values((await db.query<Record<string, unknown>>(sql)).rows[0] ?? { n: 0 })[0] ?? 0);
  const top = await db.query<{ page: string; views: string | number }>(
    'SELECT page, sum(views) AS views FROM page_views GROUP BY page ORDER BY sum(views) DESC, page LIMIT 5',
  );
  return {
    events: await one('SELECT count(*) FROM events_raw'),
    rejected: await one('SELECT count(*) FROM events_rejected'),
    users: await one('SELECT count(*) FROM user_totals'),
    views: await one('SELECT coalesce(sum(views), 0) FROM page_views'),
    topPages: top.rows.map((r) => ({ page: r.page, views: Number(r.views) })),
  };
}

export function formatTotals(t: Totals): string {
  const lines = [
    `events stored      ${t.events}`,
    `records rejected   ${t.rejected}  (malformed input, kept in events_rejected)`,
    `users with totals  ${t.users}`,
    `page views counted ${t.views}`,
    'top pages:',
    ...t.topPages.map((p) => `  ${p.page.padEnd(12)} ${p.views}`),
  ];
  return lines.join('\n');
}
