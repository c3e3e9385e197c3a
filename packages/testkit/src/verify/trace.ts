import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MicrobatchError, type VerifyTraceLine } from '@microbatch/core';

/** The lines the engine appended to a MICROBATCH_VERIFY_TRACE file (none if it never wrote one). */
export function readTrace(file: string): VerifyTraceLine[] {
  if (!existsSync(file)) return [];
  const lines: VerifyTraceLine[] = [];
  const texts = readFileSync(file, 'utf8').split('\n');
  for (const [i, text] of texts.entries()) {
    if (!text.trim()) continue;
    try {
      lines.push(JSON.parse(text) as VerifyTraceLine);
    } catch (error) {
      // Only the last line can be partial (a process killed in the middle of appending it).
      if (i === texts.length - 1) break;
      throw new MicrobatchError('INVALID_RECORD', `trace file ${file}, line ${i + 1}, is not JSON`, { cause: error, details: { file, line: i + 1 } });
    }
  }
  return lines;
}

/** How often each protocol point was reached. */
export function pointCounts(lines: readonly VerifyTraceLine[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const l of lines) if (l.kind === 'point') counts.set(l.point, (counts.get(l.point) ?? 0) + 1);
  return counts;
}

/** Every trace file of a run's directory (one per process in group mode), in name order. */
export function readRunTrace(dir: string): VerifyTraceLine[] {
  return readdirSync(dir)
    .filter((f) => /^trace.*\.jsonl$/.test(f))
    .sort()
    .flatMap((f) => readTrace(join(dir, f)));
}
