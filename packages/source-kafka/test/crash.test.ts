import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Admin, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { brokers, connectClients, createTopic, topicName } from './helpers.js';

const tsx = createRequire(import.meta.url).resolve('tsx');
const child = fileURLToPath(new URL('./fixtures/pipeline-child.ts', import.meta.url));

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

/** Starts the pipeline process; `lines` collects its stdout. */
function run(args: string[]) {
  const proc = spawn(process.execPath, ['--import', tsx, child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const exited = once(proc, 'exit');
  const reader = createInterface({ input: proc.stdout });
  const waiters: (() => void)[] = [];
  reader.on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  return {
    lines,
    exited,
    stderr: () => stderr,
    async waitFor(count: number, prefix: string): Promise<void> {
      while (lines.filter((l) => l.startsWith(prefix)).length < count) {
        if (proc.exitCode !== null) throw new Error(`child exited early:\n${stderr}`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), exited]);
      }
    },
    kill: () => proc.kill('SIGKILL'),
  };
}

describe('a pipeline process SIGKILLed mid-run', () => {
  it('the next process replays the logged ranges; every record lands exactly once', async () => {
    const topic = topicName('kill');
    const dir = mkdtempSync(join(tmpdir(), 'mb-kafka-kill-'));
    await createTopic(admin, topic, 3);
    const expected: string[] = [];
    const write = async (partition: number, values: string[]) => {
      const [written] = await producer.send({ topic, acks: -1, messages: values.map((value) => ({ partition, value })) });
      expected.push(...values.map((v, i) => `${partition}/${Number(written!.baseOffset) + i}/${v}`));
    };
    try {
      for (let p = 0; p < 3; p++) await write(p, Array.from({ length: 10 }, (_, i) => `a${p}-${i}`));
      const args = [brokers().join(','), topic, dir, topicName('app')];
      const doomed = run([...args, 'crash']);
      await doomed.waitFor(5, 'committed');
      doomed.kill();
      const [, signal] = await doomed.exited;
      expect(signal).toBe('SIGKILL');
      // Input that arrives while no process runs must not change the batches already planned.
      for (let p = 0; p < 3; p++) await write(p, Array.from({ length: 4 }, (_, i) => `b${p}-${i}`));

      const next = run([...args, 'finish']);
      const [code] = await next.exited;
      expect(code, next.stderr()).toBe(0);
      // The half-written batch was run again from its logged ranges: its committed partitions skipped...
      expect(next.lines.filter((l) => l.startsWith('replayed')).length).toBeGreaterThan(0);
      expect(readdirSync(join(dir, 'mismatches'))).toEqual([]);
      const files = readdirSync(join(dir, 'out')).filter((f) => f.endsWith('.json'));
      const written = files.flatMap((f) => JSON.parse(readFileSync(join(dir, 'out', f), 'utf8')) as string[]);
      expect(written.sort()).toEqual([...expected].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
