/** 4 partitions of 25k running totals, keys repeated across partitions (the last one wins). */
export function bigBatch(): Array<Array<{ key: string; total: number }>> {
  return Array.from({ length: 4 }, (_, p) => Array.from({ length: 25_000 }, (_, i) => ({ key: `k${(i * 7 + p) % 40_000}`, total: p * 100_000 + i })));
}

/** upsert-child.ts writes `bigBatch()` in chunks of this many rows and freezes after this many chunks. */
export const CHILD_CHUNK_SIZE = 500;
export const CHILD_CHUNKS_BEFORE_KILL = 3;
