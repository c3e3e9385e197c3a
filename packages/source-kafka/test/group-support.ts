import type { Producer } from 'kafkajs';

/**
 * What a test produced, as the pipelines under test print each record: "<topic>:<partition>/<offset>/<value>".
 * Exactly once means: what was committed, sorted, equals this, sorted.
 */
export class Produced {
  readonly records: string[] = [];

  /** Replace it with a new producer after partitions were added: kafkajs' producer drops records for partitions missing from its metadata. */
  constructor(public producer: Producer) {}

  async write(topic: string, partition: number, count: number, label: string): Promise<void> {
    const values = Array.from({ length: count }, (_, i) => `${label}-${i}`);
    const [written] = await this.producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
    if (!written) throw new Error(`the producer did not write to ${topic}:${partition} (stale metadata?)`);
    this.records.push(...values.map((v, i) => `${topic}:${partition}/${Number(written.baseOffset) + i}/${v}`));
  }

  /** `count` records into every partition of each topic. */
  async fill(topics: Readonly<Record<string, number>>, count: number, label: string): Promise<void> {
    for (const [topic, partitions] of Object.entries(topics)) {
      for (let p = 0; p < partitions; p++) await this.write(topic, p, count, `${label}-${topic.slice(-4)}-p${p}`);
    }
  }

  sorted(): string[] {
    return [...this.records].sort();
  }
}

/** Duplicates and losses between what was produced and what was committed, for a readable failure. */
export function exactlyOnce(produced: readonly string[], committed: readonly string[]): { missing: string[]; duplicated: string[]; unexpected: string[] } {
  const want = new Set(produced);
  const seen = new Map<string, number>();
  for (const record of committed) seen.set(record, (seen.get(record) ?? 0) + 1);
  return {
    missing: produced.filter((r) => !seen.has(r)),
    duplicated: [...seen].filter(([, n]) => n > 1).map(([r]) => r),
    unexpected: [...seen.keys()].filter((r) => !want.has(r)),
  };
}
