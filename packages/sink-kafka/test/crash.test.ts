import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnTsChild } from '@microbatch/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { brokers, createTopic, deleteTopics, readCommitted, topicName } from './support/kafka.js';

const child = fileURLToPath(new URL('./support/pipeline-child.ts', import.meta.url));
const packagesDir = fileURLToPath(new URL('../..', import.meta.url));
const POINTS = ['before-transaction', 'during-sends', 'before-commit', 'after-commit'] as const;
const RECORDS = 100_000;
const PARTITIONS = 4;
const KILLS = 12;

const dirs: string[] = [];
const topics: string[] = [];
afterAll(async () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  await deleteTopics(topics);
});

function run(args: string[]) {
  return spawnTsChild(child, args, { packagesDir });
}

describe('createKafkaSink under real process crashes', () => {
  it(`${RECORDS} records, ${KILLS} SIGKILLs at every point of a transaction: a read_committed consumer sees every input record exactly once`, async () => {
    const topic = topicName('crash');
    const progress = `${topic}.progress`;
    topics.push(topic, progress);
    await createTopic(topic, PARTITIONS);
    const dir = mkdtempSync(join(tmpdir(), 'sink-kafka-crash-'));
    dirs.push(dir);
    const args = [brokers().join(','), topic, progress, dir, `crash-${randomUUID().slice(0, 8)}`, String(RECORDS), String(PARTITIONS)];

    const hit = new Map<string, number>();
    for (let k = 0; k < KILLS; k++) {
      const target = POINTS[k % POINTS.length]!;
      const skip = Math.floor(Math.random() * 2);
      const proc = run(args);
      let seen = 0;
      // The child prints the point, then lingers there: kill it there.
      await proc.waitFor((line) => line.startsWith(`trace ${target} `) && seen++ === skip);
      await proc.kill();
      hit.set(target, (hit.get(target) ?? 0) + 1);
    }
    for (const point of POINTS) expect(hit.get(point), `kills at ${point}`).toBeGreaterThanOrEqual(KILLS / POINTS.length);

    const final = run(args);
    await final.exited();
    expect(final.lines).toContain('done');

    // The verifier, as Kafka's transactions system test does it: consume the output read_committed,
    // and compare with the input: every id once, nothing else.
    const committed = await readCommitted(topic);
    const ids = committed.map((r) => r.key!);
    const counts = new Map<string, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const duplicated = [...counts].filter(([, n]) => n > 1);
    const perPartition = RECORDS / PARTITIONS;
    const expected = Array.from({ length: RECORDS }, (_, i) => `${Math.floor(i / perPartition)}:${i % perPartition}`);
    const missing = expected.filter((id) => !counts.has(id));
    expect({ duplicated: duplicated.length, missing: missing.length, total: ids.length }).toEqual({ duplicated: 0, missing: 0, total: RECORDS });
    expect(new Set(ids)).toEqual(new Set(expected));
    // The kills did land inside open transactions: a read_uncommitted consumer sees their aborted records.
    expect((await readCommitted(topic, 'read_uncommitted')).length).toBeGreaterThan(RECORDS);
  }, 600_000);

  it('a zombie producer (stalled between its sends and its commit) is fenced by the next owner: its commit never lands, it stops with FENCED', async () => {
    const topic = topicName('zombie');
    const progress = `${topic}.progress`;
    topics.push(topic, progress);
    await createTopic(topic, 2);
    const dir = mkdtempSync(join(tmpdir(), 'sink-kafka-zombie-'));
    dirs.push(dir);
    const gate = join(dir, 'wake-the-zombie');
    const appId = `zombie-${randomUUID().slice(0, 8)}`;
    const args = [brokers().join(','), topic, progress, dir, appId, '2000', '2'];
    // The zombie: epoch 1, stalls with its first batch sent and not committed.
    const zombie = run([...args, gate]);
    try {
      await zombie.waitFor((line) => line.startsWith('trace gate '));
      // The next owner (epoch 2) takes over while the zombie still lives and runs to the end.
      const owner = run(args);
      await owner.exited();
      expect(owner.lines).toContain('done');
      // Wake the zombie: its commit is refused, and its sink says FENCED instead of retrying.
      const { writeFileSync } = await import('node:fs');
      writeFileSync(gate, '');
      await zombie.waitFor((line) => line.startsWith('stopped ') || line.startsWith('failed ') || line === 'done');
      // The sink itself refuses it (not only the checkpoint store, afterwards).
      expect(zombie.lines.at(-1)).toBe('stopped FENCED by out');
    } finally {
      await zombie.kill();
    }
    const keys = (await readCommitted(topic)).map((r) => r.key!);
    expect(keys.length).toBe(2000);
    expect(new Set(keys).size).toBe(2000);
  }, 300_000);
});
