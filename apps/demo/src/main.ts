#!/usr/bin/env node
import { join } from 'node:path';
import { runDemo } from './pipeline.js';

const write = (line: string) => process.stdout.write(`${line}\n`);
const checkpointDir = process.env.MICROBATCH_DEMO_DIR ?? join(process.cwd(), '.microbatch', 'demo-checkpoints');
write('microbatch demo: 60000 generated page views over 4 partitions, counted per page in micro-batches');
write(`checkpoints: ${checkpointDir} (delete it to start over; a second run resumes and finds nothing new)\n`);
const totals = await runDemo({ checkpointDir, events: 60_000, partitions: 4, batchIntervalMs: 200, write });
write('\nviews per page counted by this run:');
for (const [page, views] of [...totals].sort((a, b) => b[1] - a[1])) write(`  ${page.padEnd(10)} ${views}`);
