import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { outputTopics } from '../src/kafka-outputs.js';
import { dataTopics, readTopic } from '../src/kafka-topics.js';
import { runCli, workDir } from './support/cli.js';

const brokers = () => process.env.KAFKA_BROKERS!.replace(/^kafka:\/\//, '');
const kafka = () => new Kafka({ clientId: 'sample-kafka-sink-test', brokers: brokers().split(','), logLevel: logLevel.NOTHING });
const prefixes: string[] = [];
const newPrefix = (label: string) => {
  const prefix = `sample-${label}-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return prefix;
};
afterAll(async () => {
  const admin = kafka().admin();
  await admin.connect();
  const existing = new Set(await admin.listTopics());
  const topics = prefixes.flatMap((p) => [...dataTopics(p), outputTopics(p).progress]).filter((t) => existing.has(t));
  if (topics.length > 0) await admin.deleteTopics({ topics });
  await admin.disconnect();
});

describe('--sink kafka://host:port/PREFIX: the four outputs as topics, verified read_committed', () => {
  it('run then verify: OK; records appended to the topics make verify exit 1 naming the duplicated and wrong ones, aborted ones count for nothing', async () => {
    const prefix = newPrefix('run');
    const sink = `kafka://${brokers()}/${prefix}`;
    const shape = ['--events', '2000', '--partitions', '3', '--seed', '9'];
    const cwd = workDir();
    const ran = await runCli(['run', ...shape, '--sink', sink, '--until-idle', '--batch-interval', '100', '--max-records-per-partition', '300', '--quiet'], { cwd });
    expect(ran.code, ran.output).toBe(0);
    expect(ran.output).toMatch(/events stored\s+1986/);
    const ok = await runCli(['verify', ...shape, '--sink', sink], { cwd });
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain('verify: OK');
    for (const table of ['events_raw', 'page_views', 'user_totals', 'events_rejected']) expect(ok.output).toMatch(new RegExp(`${table}\\s+expected [1-9]\\d*: 0 missing, 0 duplicated, 0 wrong`));

    // Damage, as a careless at-least-once writer would: an event again, a page-view delta again,
    // a newer total that is wrong. And a rejection again, in a transaction that aborts.
    const spec = { kind: 'kafka' as const, brokers: brokers().split(','), prefix };
    const topics = outputTopics(prefix);
    const [event] = await readTopic(spec, topics.eventsRaw);
    const [delta] = await readTopic(spec, topics.pageViews);
    // A user's newest total is the last record of its key.
    const totals = await readTopic(spec, topics.userTotals);
    const total = totals.filter((t) => t.key === totals[0]!.key).at(-1);
    const [rejection] = await readTopic(spec, topics.eventsRejected);
    const wrongTotal = { ...(JSON.parse(total!.value!) as { amount: number }), amount: (JSON.parse(total!.value!) as { amount: number }).amount + 5 };
    const producer = kafka().producer();
    await producer.connect();
    await producer.sendBatch({
      topicMessages: [
        { topic: topics.eventsRaw, messages: [{ key: event!.key, value: event!.value }] },
        { topic: topics.pageViews, messages: [{ key: delta!.key, value: JSON.stringify({ ...(JSON.parse(delta!.value!) as object), views: 1 }) }] },
        { topic: topics.userTotals, messages: [{ key: total!.key, value: JSON.stringify(wrongTotal) }] },
      ],
    });
    await producer.disconnect();
    const aborting = kafka().producer({ transactionalId: `${prefix}-aborted`, maxInFlightRequests: 1 });
    await aborting.connect();
    const tx = await aborting.transaction();
    await tx.send({ topic: topics.eventsRejected, messages: [{ key: rejection!.key, value: rejection!.value }] });
    await tx.abort();
    await aborting.disconnect();

    const bad = await runCli(['verify', ...shape, '--sink', sink], { cwd });
    expect(bad.code, bad.output).toBe(1);
    expect(bad.output).toMatch(/events_raw .* 0 missing, 1 duplicated, 0 wrong/);
    expect(bad.output).toMatch(/page_views .* 0 missing, 1 duplicated, 0 wrong/);
    expect(bad.output).toMatch(/user_totals .* 0 missing, 0 duplicated, 1 wrong/);
    expect(bad.output).toMatch(/events_rejected .* 0 missing, 0 duplicated, 0 wrong/);
    expect(bad.output).toContain('verify: FAILED');
  });

  it('crash-test: 6 SIGKILLs in every phase of a batch (the output phase inside open Kafka transactions), then exactly once', async () => {
    const prefix = newPrefix('crash');
    const shape = ['--events', '3000', '--partitions', '4', '--seed', '3'];
    const result = await runCli(['crash-test', '--kills', '6', ...shape, '--sink', `kafka://${brokers()}/${prefix}`]);
    expect(result.output).toContain('VERDICT: exactly once');
    expect(result.code, result.output).toBe(0);
    for (const table of ['events_raw', 'page_views', 'user_totals', 'events_rejected']) {
      expect(result.output).toMatch(new RegExp(`${table}\\s+0 missing, 0 duplicated, 0 wrong`));
    }
    expect(result.output).toMatch(/phases hit: planning [1-9]\d*, output [1-9]\d*, between-output-and-checkpoint [1-9]\d*/);
    // The kills in the output phase left aborted records behind, which read_committed never showed.
    const spec = { kind: 'kafka' as const, brokers: brokers().split(','), prefix };
    // The kill may land in either sink's transaction (events, or user_totals): count all four topics.
    const { progress: _, ...outputs } = outputTopics(prefix);
    let committed = 0;
    let everything = 0;
    for (const topic of Object.values(outputs)) {
      committed += (await readTopic(spec, topic)).length;
      everything += (await readTopic(spec, topic, 'read_uncommitted')).length;
    }
    expect(everything).toBeGreaterThan(committed);
  });
});
