import { sourceSuite } from '@microbatch/testkit';
import { describe, it } from 'vitest';
import { MemoryLog, createMemoryLogSource, type MemoryRecord } from '../src/index.js';

// The in-memory log is the reference implementation the source suite is proven against.
sourceSuite<MemoryRecord<string>>({
  describe,
  it,
  name: 'Memory log source conformance',
  valueOf: (record) => record.value,
  offsetOf: (record) => record.offset,
  // A memory log keeps everything, so there is no retention to test.
  features: { truncate: false, addPartition: true },
  async createLog({ partitions }) {
    const log = new MemoryLog<string>(partitions);
    const ids = Array.from({ length: partitions }, (_, i) => String(i));
    return {
      partitions: ids,
      append: async (index, values) => void log.append(index, ...values),
      createSource: ({ startingOffsets = 'earliest' } = {}) => createMemoryLogSource(log, { name: `memory-${Math.random().toString(36).slice(2, 8)}`, startingOffsets }),
      async addPartition() {
        const index = log.addPartition();
        ids.push(String(index));
        return String(index);
      },
    };
  },
});
