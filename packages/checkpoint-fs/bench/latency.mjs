// Write/read latency of the fs checkpoint store for 64 and 1024 partitions (a benchmark, not a test).
// Run after building: pnpm --filter @microbatch/checkpoint-fs... build && node packages/checkpoint-fs/bench/latency.mjs [dir]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkpointLatencyReport } from '@microbatch/testkit';
import { createFsCheckpointStore } from '../dist/index.js';

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'microbatch-fs-bench-'));
const store = createFsCheckpointStore({ dir });
try {
  console.log(await checkpointLatencyReport(store));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
