import { eventAt, type Generation, type PageEvent } from './generate.js';

/** How the pipeline runs: what the expected values depend on besides the generator. */
export interface PipelineShape {
  /** Records per partition per batch (the input is all in the topic before the first start). */
  readonly cap: number;
  readonly delayMs: number;
  readonly idleAfterBatches: number;
  readonly windowMs: number;
}

export interface WindowRow {
  readonly page: string;
  readonly start: number;
  readonly views: number;
}

export interface LateRow {
  readonly id: string;
  readonly ts: number;
  readonly watermark: number;
}

/**
 * The windows and late records the pipeline must write, computed from the generator and the
 * rules of docs/semantics.md §9 alone (not with the engine): with the whole input in the topic
 * and a cap of `cap` records per partition, batch k reads offsets [k * cap, (k + 1) * cap) of every
 * partition, whatever crashes happen, because a replay reads exactly its logged ranges.
 */
export function expectedOutput(g: Generation, shape: PipelineShape): { windows: WindowRow[]; late: LateRow[]; finalWatermark: number | null } {
  const max: (number | null)[] = Array.from({ length: g.partitions }, () => null);
  const idle: number[] = Array.from({ length: g.partitions }, () => 0);
  let watermark: number | null = null;
  const open = new Map<string, WindowRow>();
  const windows: WindowRow[] = [];
  const late: LateRow[] = [];
  const batches = Math.ceil(g.perPartition / shape.cap) + shape.idleAfterBatches + 1;
  for (let k = 0; k < batches; k++) {
    for (const [id, w] of [...open]) {
      if (watermark !== null && w.start + shape.windowMs <= watermark) {
        windows.push(w);
        open.delete(id);
      }
    }
    for (let p = 0; p < g.partitions; p++) {
      const events: PageEvent[] = [];
      for (let o = k * shape.cap; o < Math.min(g.perPartition, (k + 1) * shape.cap); o++) events.push(eventAt(g, p, o));
      for (const e of events) {
        if (watermark !== null && e.ts <= watermark) {
          late.push({ id: e.id, ts: e.ts, watermark });
          continue;
        }
        const start = Math.floor(e.ts / shape.windowMs) * shape.windowMs;
        const id = `${e.page}@${start}`;
        const w = open.get(id);
        open.set(id, { page: e.page, start, views: (w?.views ?? 0) + 1 });
      }
      if (events.length > 0) {
        max[p] = Math.max(max[p] ?? -Infinity, ...events.map((e) => e.ts));
        idle[p] = 0;
      } else idle[p]! += 1;
    }
    const active = [...max.keys()].filter((p) => idle[p]! < shape.idleAfterBatches);
    let candidate: number | null = null;
    if (active.length > 0 && active.every((p) => max[p] !== null)) candidate = Math.min(...active.map((p) => max[p]!)) - shape.delayMs;
    if (active.length === 0) candidate = Math.max(...max.filter((m): m is number => m !== null)) - shape.delayMs;
    if (candidate !== null) watermark = watermark === null ? candidate : Math.max(watermark, candidate);
  }
  return { windows, late, finalWatermark: watermark };
}
