/**
 * The sample's input, deterministic: event i of N lives at partition i % P, offset floor(i / P),
 * and its text is a pure function of (seed, partition, offset). The generator source and
 * `produce` make the same records, so `verify` knows the expected tables for either source.
 * About 1% of records are malformed, in several ways.
 *
 * Users are co-partitioned: every event of user u lives in partition u % P (see `userOf`), so
 * in a group, where a shuffle combines one task's (one partition number's) records only, the
 * running totals per user (updateStateByKey) are the same as a single process's.
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

/**
 * The user of the record at (partition, offset): one of the users u < 500 with u % P === partition
 * (user `partition` itself when P > 500). A user's events are thus all in one partition, the one
 * `produce` writes them to, as a Kafka producer's key partitioner would keep one key in one
 * partition: the input is co-partitioned by user, which a group of tasks relies on (README).
 */
export function userOf(shape: Shape, partition: number, offset: number): string {
  const { seed, partitions } = shape;
  const candidates = Math.max(1, Math.ceil((USERS - partition) / partitions));
  return `user-${(mix(seed, partition, offset, 1) % candidates) * partitions + partition}`;
}

/** The raw text of the record at (partition, offset). */
export function rawRecord(shape: Shape, partition: number, offset: number): string {
  const { seed } = shape;
  const index = offset * shape.partitions + partition;
  const event = {
    id: `evt-${seed}-${index}`,
    user: userOf(shape, partition, offset),
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
