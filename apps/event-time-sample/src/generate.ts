/**
 * The generator: what each partition holds, as a pure function of these parameters, so the
 * verifier can compute the expected windows and late records without the engine.
 */
export interface Generation {
  readonly partitions: number;
  readonly perPartition: number;
  readonly pages: number;
  /** Event time of offset 0; offset i is `startMs + i * stepMs + partition` (ordered within a partition). */
  readonly startMs: number;
  readonly stepMs: number;
  /** Every `lateEvery`-th offset from `lateFrom` on is shifted back by `lateByMs`: the tail of late events (0: none). */
  readonly lateEvery: number;
  readonly lateFrom: number;
  readonly lateByMs: number;
}

export interface PageEvent {
  readonly id: string;
  readonly page: string;
  readonly ts: number;
}

export const isShiftedBack = (g: Generation, offset: number): boolean => g.lateEvery > 0 && offset >= g.lateFrom && offset % g.lateEvery === 0;

export function eventAt(g: Generation, partition: number, offset: number): PageEvent {
  const onTime = g.startMs + offset * g.stepMs + partition;
  return {
    id: `${partition}-${offset}`,
    page: `/page-${(offset * 31 + partition * 7) % g.pages}`,
    ts: isShiftedBack(g, offset) ? onTime - g.lateByMs : onTime,
  };
}
