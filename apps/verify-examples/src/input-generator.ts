// The input of the verifier's tests, for `--input-generator`: VERIFY_EXAMPLE_EVENTS events
// (default 2000) of 50 users, keyed by user so a user's events stay in one partition.
import type { Event } from './shared.js';

export default function* events(): Generator<{ key: string; value: Event }> {
  const n = Number(process.env.VERIFY_EXAMPLE_EVENTS ?? 2000);
  for (let i = 0; i < n; i++) {
    const user = `user-${(i * 7) % 50}`;
    yield { key: user, value: { id: `e${i}`, user, amount: (i * 37) % 1000 } };
  }
}
