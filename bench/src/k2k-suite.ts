// Scenario 9: Kafka to Kafka, the cost of exactly-once output to Kafka (issue 14).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { runChild, type ChildResult } from './harness.ts';
import type { ScenarioResult } from './report.ts';
import { median, type Sizes } from './suite.ts';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const k = (v: number) => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : v >= 1e3 ? `${(v / 1e3).toFixed(1)}k` : v.toFixed(0));
type Rate = { records: number; ms: number; recordsPerSec: number };
const PARTITIONS = 8;
const tmp = () => mkdtempSync(join(tmpdir(), 'microbatch-bench-'));

/**
 * 1M sample records (100k with --quick) in an input topic of 8 partitions, copied to a new output
 * topic per run by: the pipeline with the exactly-once Kafka sink, one transaction per batch and
 * one per partition; the same pipeline writing with a plain idempotent producer (at-least-once);
 * and a plain kafkajs producer writing the same records with nothing read. Rounds interleave.
 */
export async function kafkaToKafka(s: Sizes): Promise<ScenarioResult[]> {
  const brokers = (process.env.KAFKA_BROKERS ?? '').split(',').map((b) => b.replace(/^kafka:\/\//, ''));
  const events = s.e2eEvents / 2;
  const admin = new Kafka({ clientId: 'bench-k2k', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topics: string[] = [];
  const dirs: string[] = [];
  const newTopic = async () => {
    const topic = `mbbench-k2k-${randomBytes(4).toString('hex')}`;
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    topics.push(topic, `${topic}.progress`);
    return topic;
  };
  const committed = async (topic: string) => (await admin.fetchTopicOffsets(topic)).reduce((n, p) => n + Number(p.high), 0);
  try {
    const input = `mbbench-k2k-in-${randomBytes(4).toString('hex')}`;
    topics.push(input);
    log(`producing ${k(events)} sample events into ${input}`);
    await runChild('produce', { brokers, topic: input, events, partitions: PARTITIONS }, { timeoutMs: 600_000 });
    const modes = ['exactly-once-batch', 'exactly-once-partition', 'at-least-once'] as const;
    const runs: Record<(typeof modes)[number] | 'plain', ChildResult<Rate>[]> = { 'exactly-once-batch': [], 'exactly-once-partition': [], 'at-least-once': [], plain: [] };
    for (let round = 1; round <= s.rounds; round++) {
      log(`scenario 10, round ${round}/${s.rounds}: plain producer, at-least-once, exactly-once per batch, per partition`);
      const plainOut = await newTopic();
      runs.plain.push(await runChild<Rate>('k2k-plain-producer', { brokers, output: plainOut, events, partitions: PARTITIONS }, { timeoutMs: 600_000 }));
      for (const mode of ['at-least-once', 'exactly-once-batch', 'exactly-once-partition'] as const) {
        const output = await newTopic();
        const checkpointDir = tmp();
        dirs.push(checkpointDir);
        const run = await runChild<Rate>('k2k-pipeline', { mode, brokers, input, output, checkpointDir, perBatch: s.e2ePerBatch }, { timeoutMs: 900_000 });
        if (run.result.records !== events) throw new Error(`${mode}: ${run.result.records} records processed, expected ${events}`);
        // Every record reached the topic (offsets also count transaction markers: at least `events`).
        const written = await committed(output);
        if (written < events) throw new Error(`${mode}: ${written} offsets in ${output}, expected at least ${events}`);
        runs[mode].push(run);
      }
    }
    const byRate = (r: Rate) => r.recordsPerSec;
    const batch = median(runs['exactly-once-batch'], byRate);
    const partition = median(runs['exactly-once-partition'], byRate);
    const atLeast = median(runs['at-least-once'], byRate);
    const plain = median(runs.plain, byRate);
    const ratio = batch.result.recordsPerSec / atLeast.result.recordsPerSec;
    const ratioPartition = partition.result.recordsPerSec / atLeast.result.recordsPerSec;
    return [
      {
        id: '10',
        title: `Kafka to Kafka: ${k(events)} sample records, 8 partitions, the exactly-once Kafka sink vs at-least-once`,
        project: `${k(batch.result.recordsPerSec)} rec/s (one transaction per batch); per partition ${k(partition.result.recordsPerSec)} rec/s (${ratioPartition.toFixed(2)}x at-least-once)`,
        baseline: `${k(atLeast.result.recordsPerSec)} rec/s (same pipeline, plain idempotent producer); plain kafkajs producer alone ${k(plain.result.recordsPerSec)} rec/s`,
        ratio,
        ratioOf: 'exactly-once (per batch) / at-least-once',
        target: '>= 0.9',
        met: ratio >= 0.9,
        peakRssMB: { project: batch.maxPeakRssMB, baseline: atLeast.maxPeakRssMB },
        details: { events, perBatch: s.e2ePerBatch, rounds: s.rounds, exactlyOncePerBatch: batch, exactlyOncePerPartition: partition, atLeastOnce: atLeast, plainProducer: plain },
      },
    ];
  } finally {
    const existing = new Set(await admin.listTopics());
    const present = topics.filter((t) => existing.has(t));
    if (present.length > 0) await admin.deleteTopics({ topics: present }).catch((e) => log(`delete topics: ${e}`));
    await admin.disconnect();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
