import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaSnapshot, verifyPipeline } from '@microbatch/testkit';
import { describe, expect, it } from 'vitest';
import { brokers } from './support.js';

// A program (not built on microbatch, so kills 0) that writes its output topic in Kafka
// transactions, as a transactional Kafka sink would: run B also writes an aborted transaction,
// or, with `extra`, commits one record more.
const kafkajs = createRequire(import.meta.url).resolve('kafkajs');
function producerApp(runB: 'abort' | 'extra'): string[] {
  const script = join(mkdtempSync(join(tmpdir(), 'verify-kafka-')), 'producer.cjs');
  writeFileSync(
    script,
    `const { Kafka } = require(${JSON.stringify(kafkajs)});
const kafka = new Kafka({ clientId: 'p', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: 0 });
const topic = process.env.MICROBATCH_VERIFY_TARGET + '-out';
(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer({ transactionalId: topic, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const write = async (messages, commit) => {
    const tx = await producer.transaction();
    await tx.send({ topic, messages });
    await (commit ? tx.commit() : tx.abort());
  };
  await write([0, 1, 2, 3, 4].map((i) => ({ key: 'k' + i, value: 'v' + i, partition: i % 2 })), true);
  if (process.env.MICROBATCH_VERIFY_RUN === 'b') {
    if (${JSON.stringify(runB)} === 'abort') await write([{ key: 'k9', value: 'aborted', partition: 0 }], false);
    else await write([{ key: 'k9', value: 'extra', partition: 1 }], true);
  }
  await write([{ key: 'k5', value: 'v5', partition: 0 }], true);
  await producer.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });`,
  );
  return [process.execPath, script];
}

describe('kafkaSnapshot (read_committed)', () => {
  const snapshot = () => kafkaSnapshot({ brokers: brokers(), topic: '{target}-out' });

  it('leaves out records of aborted transactions: a run that aborted one equals a run that did not', async () => {
    const report = await verifyPipeline({ app: producerApp('abort'), snapshot: snapshot(), key: ['key'], kills: 0 });
    expect(report.text).toContain('VERDICT: OK');
    expect(report.diff?.rowsA).toBe(6);
    expect(report.diff?.rowsB).toBe(6);
  });

  it('shows a committed record only one run wrote', async () => {
    const report = await verifyPipeline({ app: producerApp('extra'), snapshot: snapshot(), key: ['key'], kills: 0 });
    expect(report.ok).toBe(false);
    expect(report.diff?.unexpected).toEqual([{ key: 'key="k9"', rows: [{ partition: 1, key: 'k9', value: 'extra', headers: {} }] }]);
  });
});

describe('kafkaSnapshot with a transaction still open', () => {
  it('fails with SOURCE_FAILED naming the partition, rather than leave out what the open transaction hides', async () => {
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({ clientId: 'verify-open-tx', brokers: brokers(), logLevel: logLevel.NOTHING });
    const topic = `verify-open-tx-${process.pid}-${Date.now()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ transactionalId: topic, idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const open = await producer.transaction();
    try {
      await open.send({ topic, messages: [{ key: 'k', value: 'pending' }] });
      const read = kafkaSnapshot({ brokers: brokers(), topic, settleTimeoutMs: 500 });
      const error = await read({ run: 'a', target: topic, dir: tmpdir(), env: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'MicrobatchError', code: 'SOURCE_FAILED', details: { topic, partition: `${topic}:0`, lastStableOffset: 0, highWatermark: 1 } });
    } finally {
      await open.abort();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] });
      await admin.disconnect();
    }
  });
});
