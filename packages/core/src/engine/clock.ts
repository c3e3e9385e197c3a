import { setTimeout as delay } from 'node:timers/promises';

/** Time as the scheduler sees it; inject a virtual clock to run batches back to back in tests. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), undefined, { signal }).catch(() => undefined),
};

export interface VirtualClock extends Clock {
  advance(ms: number): void;
}

/** A clock whose sleeps return at once and move time forward: batch times stay exact, tests stay fast. */
export function createVirtualClock(start = 0): VirtualClock {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
    async sleep(ms) {
      now += Math.max(0, ms);
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}
