import type { PipelineShape } from '../src/expected.js';
import type { Generation } from '../src/generate.js';

/**
 * Mostly ordered page views over about 20 event-time minutes, with every 17th event from offset 60
 * on shifted back by 5 minutes: far more than the delay plus what one batch spans, so each of those
 * is late, and nothing else is.
 */
export const generation: Generation = { partitions: 3, perPartition: 600, pages: 7, startMs: 1_800_000_000_000, stepMs: 2000, lateEvery: 17, lateFrom: 60, lateByMs: 300_000 };
export const shape: PipelineShape = { cap: 20, delayMs: 30_000, idleAfterBatches: 2, windowMs: 60_000 };
