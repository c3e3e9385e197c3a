import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Admin, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { brokers, connectClients, createTopic, produce, topicName } from './helpers.js';

const tsx = createRequire(import.meta.url).resolve('tsx');
const child = fileURLToPath(new URL('./fixtures/source-child.ts', import.meta.url));

let admin: Admin;
let producer: Producer;
connectClients((clients) => ({ admin, producer } = clients));

describe('process warnings', () => {
  it('a process that plans and reads with the source prints no TimeoutNegativeWarning, and other warnings still show', async () => {
    const topic = topicName('warn');
    await createTopic(admin, topic, 1);
    await produce(producer, topic, 0, ['a', 'b', 'c']);
    // Warnings on, whatever the parent's environment says.
    const env = { ...process.env, NODE_NO_WARNINGS: '', NODE_OPTIONS: '' };
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', tsx, child, brokers().join(','), topic], { env });
    expect(stdout).toBe('read 3\n');
    expect(stderr).toContain('MicrobatchProbeWarning');
    expect(stderr).not.toContain('TimeoutNegativeWarning');
  });
});
