import type { VerifyCrashPoint } from '@microbatch/core';

/** The moments a kill is aimed at, in turn, with the words the report uses for them. */
export const KILL_POINTS: ReadonlyArray<{ point: VerifyCrashPoint; phase: string }> = [
  { point: 'plan:before-write', phase: 'planning (plan not yet durable)' },
  { point: 'output:in-progress', phase: 'output in progress' },
  { point: 'output:after', phase: 'between output and checkpoint' },
  { point: 'checkpoint:during-write', phase: 'during a checkpoint write' },
  { point: 'plan:after-write', phase: 'plan durable, no output yet' },
];

export interface PlannedKill {
  readonly point: VerifyCrashPoint;
  readonly phase: string;
  /** The n-th time the restarted process reaches the point. */
  readonly nth: number;
  /** For output:in-progress: ms into the outputs, or "offer": where an output offers it (core's offerOutputCrash). */
  readonly delayMs: number | 'offer';
}

/** A small seeded generator (mulberry32), so a failing run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * K kills, each point in turn. `nth` is 1 or 2: every restart first replays what was pending,
 * and a small n keeps most of the input for the kills after it.
 */
export function planKills(kills: number, random: () => number): PlannedKill[] {
  return Array.from({ length: kills }, (_, k) => {
    const { point, phase } = KILL_POINTS[k % KILL_POINTS.length]!;
    return { point, phase, nth: 1 + Math.floor(random() * 2), delayMs: Math.floor(random() * 10) };
  });
}
