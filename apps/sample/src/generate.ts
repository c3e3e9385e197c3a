/**
 * The sample's input, deterministic: event i of N lives at partition i % P, offset floor(i / P),
 * and its text is a pure function of (seed, partition, offset). The generator source and
 * `produce` make the same records, so `verify` knows the expected tables for either source.
 * About 1% of records are malformed, in several ways.
 */
export interface Shape {
  readonly events: number;
  readonly partitions: number;
  readonly seed: number;
}

const PAGES = ['/home', '/home', '/home', '/products', '/products', '/pricing', '/docs', '/docs', '/blog', '/about', '/checkout', '/signup'];
const USERS = 500;
const BASE_TS = 1_767_225_600_000; // 2026-01-01T00:00:00Z

export function recordsInPartition(shape: Shape, partition: number): number {
  return Math.max(0, Math.ceil((shape.events - partition) / shape.partitions));
}

/** 32-bit hash of (seed, partition, offset, salt), the only source of "randomness". */
function mix(seed: number, partition: number, offset: number, salt: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(partition + 1, 0xc2b2ae35) ^ Math.imul(offset + 1, 0x27d4eb2f) ^ salt;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export function userOf(seed: number, partition: number, offset: number): string {
  return `user-${mix(seed, partition, offset, 1) % USERS}`;
}

/** The raw text of the record at (partition, offset). */
export function rawRecord(shape: Shape, partition: number, offset: number): string {
  const { seed } = shape;
  const index = offset * shape.partitions + partition;
  const event = {
    id: `evt-${seed}-${index}`,
    user: userOf(seed, partition, offset),
    page: PAGES[mix(seed, partition, offset, 2) % PAGES.length]!,
    amount: mix(seed, partition, offset, 3) % 10_000,
    ts: BASE_TS + index * 37,
  };
  const roll = mix(seed, partition, offset, 4) % 1000;
  if (roll >= 10) return JSON.stringify(event);
  // The malformed ~1%, of five kinds.
  switch (roll % 5) {
    case 0:
      return `{"id":"${event.id}","user":`; // truncated: not JSON
    case 1: {
      const { user: _missing, ...rest } = event;
      return JSON.stringify(rest);
    }
    case 2:
      return JSON.stringify({ ...event, amount: String(event.amount) });
    case 3:
      return JSON.stringify([event.id, event.user]);
    default:
      return `not json at all ${event.id}`;
  }
}
