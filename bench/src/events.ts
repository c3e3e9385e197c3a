/** Child side: an event line for the parent (progress, first batch...). */
export function emit(type: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`@@bench ${JSON.stringify({ type, ...fields })}\n`);
}

export const rate = (records: number, ms: number) => (ms > 0 ? (records / ms) * 1000 : 0);

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
