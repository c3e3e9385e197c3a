import { isMicrobatchError } from '@microbatch/core';
import { describe, expect, it } from 'vitest';
import { createKafkaSource, parsePartitionId, type KafkaSourceOptions } from '../src/index.js';

const base = { brokers: ['127.0.0.1:1'], topics: ['t'] } as const;
const invalid = (options: unknown) => {
  try {
    createKafkaSource(options as KafkaSourceOptions);
  } catch (error) {
    return isMicrobatchError(error, 'INVALID_OPTION') ? (error.details.option as string) : `unexpected ${String(error)}`;
  }
  return 'accepted';
};

// Option validation needs no broker: clients are created on first use.
describe('options', () => {
  it('rejects bad options with INVALID_OPTION naming the option', () => {
    expect(invalid({ ...base, brokers: [] })).toBe('brokers');
    expect(invalid({ brokers: base.brokers })).toBe('topics');
    expect(invalid({ ...base, topicPattern: /t/ })).toBe('topics');
    expect(invalid({ brokers: base.brokers, topicPattern: 't' })).toBe('topicPattern');
    expect(invalid({ brokers: base.brokers, assign: ['no-partition'] })).toBe('assign');
    expect(invalid({ ...base, startingOffsets: { orders: 1 } })).toBe('startingOffsets');
    expect(invalid({ ...base, startingOffsets: 'middle' })).toBe('startingOffsets');
    expect(invalid({ ...base, startingOffsets: { 't:0': -5 } })).toBe('startingOffsets["t:0"]');
    expect(invalid({ ...base, isolationLevel: 'none' })).toBe('isolationLevel');
    expect(invalid({ ...base, deserializer: 'xml' })).toBe('deserializer');
    expect(invalid({ ...base, onDeserializationError: 'ignore' })).toBe('onDeserializationError');
    expect(invalid({ ...base, onOffsetOutOfRange: 'reset' })).toBe('onOffsetOutOfRange');
    expect(invalid({ ...base, readTimeoutMs: 0 })).toBe('readTimeoutMs');
    expect(invalid({ ...base, maxRecordsPerPartition: 1.5 })).toBe('maxRecordsPerPartition');
    expect(invalid({ ...base, commitGroupId: '' })).toBe('commitGroupId');
  });

  it('accepts every subscription form and a broker string', () => {
    expect(invalid({ brokers: 'kafka://a:1, b:2', topics: ['t'] })).toBe('accepted');
    expect(invalid({ brokers: base.brokers, topicPattern: /^t-/g })).toBe('accepted');
    expect(invalid({ brokers: base.brokers, assign: ['t:0', 'my.topic:12'], startingOffsets: { 't:0': 5, 'my.topic:12': 'latest' } })).toBe('accepted');
  });

  it('partition ids are "<topic>:<partition>"', () => {
    expect(parsePartitionId('orders:3')).toEqual({ topic: 'orders', partition: 3 });
    for (const bad of ['orders', 'orders:', ':1', 'orders:-1', 'orders:1.5']) {
      expect(() => parsePartitionId(bad), bad).toThrow(/not a Kafka partition id/);
    }
  });

  it('close before any use and twice is safe, use after close is STOPPED', async () => {
    const source = createKafkaSource(base);
    await source.close();
    await source.close();
    await expect(source.latestOffsets()).rejects.toSatisfy((e: unknown) => isMicrobatchError(e, 'STOPPED'));
  });
});
