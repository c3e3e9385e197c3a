import { canonicalJson as canonical } from '@microbatch/core';

/** One output row, as a snapshot returns it: a plain object of columns. */
export type Row = Readonly<Record<string, unknown>>;

/** What differs between the uninterrupted run (A) and the run with kills (B). */
export interface SnapshotDiff {
  /** Keys A has and B lacks (or has fewer of): records lost by the kills. */
  readonly missing: ReadonlyArray<{ key: string; rows: readonly Row[]; countA: number; countB: number }>;
  /** Keys B has more often than A, with the same contents: effects applied twice. */
  readonly duplicated: ReadonlyArray<{ key: string; row: Row; countA: number; countB: number }>;
  /** Keys both have, with other contents: a replay computed something else. */
  readonly changed: ReadonlyArray<{ key: string; a: Row; b: Row; columns: readonly string[] }>;
  /** Keys only B has. */
  readonly unexpected: ReadonlyArray<{ key: string; rows: readonly Row[] }>;
  readonly rowsA: number;
  readonly rowsB: number;
}

export function isIdentical(diff: SnapshotDiff): boolean {
  return diff.missing.length + diff.duplicated.length + diff.changed.length + diff.unexpected.length === 0;
}

/**
 * Compares two snapshots as multisets of rows. With `key` (the columns that identify a row) a
 * row whose other columns differ is "changed"; without, the whole row is its identity, so a
 * change shows as one missing row and one unexpected row.
 */
export function diffSnapshots(a: readonly Row[], b: readonly Row[], key?: readonly string[]): SnapshotDiff {
  const keyOf = (row: Row) => (key && key.length > 0 ? key.map((c) => `${c}=${canonical(row[c])}`).join(', ') : canonical(row));
  const group = (rows: readonly Row[]) => {
    const groups = new Map<string, Row[]>();
    for (const row of rows) {
      const k = keyOf(row);
      const list = groups.get(k);
      if (list) list.push(row);
      else groups.set(k, [row]);
    }
    return groups;
  };
  const [ga, gb] = [group(a), group(b)];
  const missing: Array<SnapshotDiff['missing'][number]> = [];
  const duplicated: Array<SnapshotDiff['duplicated'][number]> = [];
  const changed: Array<SnapshotDiff['changed'][number]> = [];
  const unexpected: Array<SnapshotDiff['unexpected'][number]> = [];
  for (const [k, rowsA] of ga) {
    const rowsB = gb.get(k) ?? [];
    if (rowsB.length === 0) {
      missing.push({ key: k, rows: rowsA, countA: rowsA.length, countB: 0 });
      continue;
    }
    const [ca, cb] = [rowsA.map(canonical).sort(), rowsB.map(canonical).sort()];
    if (ca.join('\n') === cb.join('\n')) continue;
    const [da, db] = [new Set(ca), new Set(cb)];
    const sameContents = da.size === db.size && [...da].every((r) => db.has(r));
    if (sameContents && rowsB.length > rowsA.length) duplicated.push({ key: k, row: rowsB[0]!, countA: rowsA.length, countB: rowsB.length });
    else if (sameContents) missing.push({ key: k, rows: rowsA, countA: rowsA.length, countB: rowsB.length });
    else changed.push({ key: k, a: rowsA[0]!, b: rowsB.find((r) => !da.has(canonical(r))) ?? rowsB[0]!, columns: changedColumns(rowsA[0]!, rowsB[0]!) });
  }
  for (const [k, rowsB] of gb) if (!ga.has(k)) unexpected.push({ key: k, rows: rowsB });
  return { missing, duplicated, changed, unexpected, rowsA: a.length, rowsB: b.length };
}

function changedColumns(a: Row, b: Row): string[] {
  const columns = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...columns].filter((c) => canonical(a[c]) !== canonical(b[c])).sort();
}

/** A readable diff: counts per kind, then up to `limit` examples each, keys first. */
export function formatDiff(diff: SnapshotDiff, limit = 5): string {
  const lines = [`rows: ${diff.rowsA} in the uninterrupted run (A), ${diff.rowsB} in the run with kills (B)`];
  const section = <T>(title: string, items: readonly T[], show: (item: T) => string) => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`);
    for (const item of items.slice(0, limit)) lines.push(`  ${show(item)}`);
    if (items.length > limit) lines.push(`  ... and ${items.length - limit} more`);
  };
  section('missing in B', diff.missing, (m) => `${m.key}: A has it ${times(m.countA)}, B ${times(m.countB)}  ${clip(canonical(m.rows[0]))}`);
  section('duplicated in B', diff.duplicated, (d) => `${d.key}: B has it ${times(d.countB)}, A ${times(d.countA)}  ${clip(canonical(d.row))}`);
  section('changed', diff.changed, (c) => `${c.key}: ${c.columns.map((col) => `${col} ${clip(canonical(c.a[col]), 60)} -> ${clip(canonical(c.b[col]), 60)}`).join('; ')}`);
  section('only in B', diff.unexpected, (u) => `${u.key}: ${times(u.rows.length)}  ${clip(canonical(u.rows[0]))}`);
  if (isIdentical(diff)) lines.push('identical: no missing, duplicated or changed row');
  return lines.join('\n');
}

const times = (n: number) => (n === 1 ? 'once' : `${n} times`);
const clip = (text: string, max = 160) => (text.length > max ? `${text.slice(0, max)}...` : text);
