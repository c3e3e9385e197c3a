import type { VerifyTraceLine } from '@microbatch/core';

/** A likely cause of a difference, found in what the engine traced. */
export interface Finding {
  readonly kind: 'nondeterministic' | 'not-exactly-once-output';
  readonly output: string;
  readonly message: string;
}

/** Outputs the engine computed differently from the same input, first one per output. */
export function nondeterminismFindings(lines: readonly VerifyTraceLine[]): Finding[] {
  const seen = new Set<string>();
  const findings: Finding[] = [];
  for (const l of lines) {
    if (l.kind !== 'nondeterministic' || seen.has(l.output)) continue;
    seen.add(l.output);
    findings.push({
      kind: 'nondeterministic',
      output: l.output,
      message:
        `output "${l.output}" is fed by nondeterministic user code: computing batch ${l.batchTime} twice from the same input gave ` +
        `different contents (partition ${l.partition}, record ${l.index}: ${l.first} vs ${l.second}). A replay after a crash then writes ` +
        'other values than the first attempt; look for Date.now(), Math.random(), new Date() or external lookups in its map/transform, and take such values from the records instead',
    });
  }
  return findings;
}

/** Outputs that are neither idempotent nor transactional as far as the engine knows: foreachBatch (print is one). */
export function guaranteeFindings(lines: readonly VerifyTraceLine[]): Finding[] {
  const outputs = new Map<string, { via: string; guarantee: string }>();
  for (const l of lines) if (l.kind === 'outputs') for (const o of l.outputs) outputs.set(o.name, o);
  return [...outputs].flatMap(([name, o]) =>
    o.guarantee !== 'none'
      ? []
      : [
          {
            kind: 'not-exactly-once-output' as const,
            output: name,
            message:
              `output "${name}" is a foreachBatch${name.startsWith('print-') ? ' (print)' : ''}: neither idempotent nor transactional as far as the engine knows. ` +
              'A batch replayed after a crash runs it again, so unless it writes with a deterministic key (an upsert) or commits a marker per ' +
              '(batch time, partition) in the same transaction, its effects are at-least-once. Use a sink (to(...)) from @microbatch/sink-postgres or sink-upsert',
          },
        ],
  );
}
