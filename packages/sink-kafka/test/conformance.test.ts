import { sinkSuite } from '@microbatch/testkit';
import { describe, it } from 'vitest';
import { createKafkaSink } from '../src/index.js';
import { brokers, createTopic, deleteTopics, readCommitted } from './support/kafka.js';

type Row = { key: string; value: number };

// A target is an output topic (3 partitions) with a progress topic of its own: a new target is
// empty storage, the same target another process writing the same topics.
// The bad record: with 'batch', its value serializer throws; with 'partition', its value (2 MB) is
// larger than the topic's max.message.bytes (1 MB by default).
const badValue = (granularity: 'batch' | 'partition') => (r: Row) => {
  if (r.value >= 0) return String(r.value);
  if (granularity === 'batch') throw new Error(`cannot serialize ${r.key}`);
  return 'x'.repeat(2_000_000);
};

function suite(granularity: 'batch' | 'partition') {
  const created = new Set<string>();
  sinkSuite<Row>({
    describe,
    it,
    name: `kafka, one transaction per ${granularity}`,
    guarantee: 'transactional',
    async createSink(target) {
      if (!created.has(target)) {
        created.add(target);
        await createTopic(target, 3);
      }
      return createKafkaSink<Row>({
        name: 'out',
        brokers: brokers(),
        topic: target,
        key: (r) => r.key,
        value: badValue(granularity),
        granularity,
        progressTopic: `${target}.progress`,
      });
    },
    async readBack(target) {
      // What a read_committed consumer sees, as a multiset: every (key, value), sorted.
      const records = await readCommitted(target);
      return records.map((r) => `${r.key}=${r.value}`).sort();
    },
    record: (batchTime, partitionId, index) => ({ key: `${batchTime}/${partitionId}/${index}`, value: index * 7 }),
    badRecord: (batchTime, partitionId, index) => ({ key: `${batchTime}/${partitionId}/${index}`, value: -1 }),
    async cleanup(target) {
      if (created.delete(target)) await deleteTopics([target, `${target}.progress`]);
    },
  });
}

suite('batch');
suite('partition');
