// pnpm bench [--quick] [--only 1,4,7] [--out DIR] [--no-readme]
// Runs the scenarios of issue 8, each project side next to its baseline in the same run, writes
// results/<date>-<commit>.json, prints the Markdown table and (full runs of every scenario) keeps
// it in bench/README.md. Services come from tools/services: reused when running, started (and then
// stopped) otherwise.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { ensureServices, startPrivateService } from '@microbatch/services';
import { fixKafkajs } from '@microbatch/source-kafka';
import { groupScaleOut } from './group-suite.ts';
import { kafkaToKafka } from './k2k-suite.ts';
import { BENCH_DIR } from './harness.ts';
import { describeMachine, gitCommit } from './machine.ts';
import { markdownTable, updateReadme, type RunResults, type ScenarioResult } from './report.ts';
import { EndToEnd, FULL, QUICK, checkpoints, endToEnd, engineOverhead, eventTime, pipelineMemory, recovery, scale, state } from './suite.ts';

// The harness's own kafkajs clients (topic setup, baselines) run on the same corrected kafkajs as
// the source (read_committed filtering; no TimeoutNegativeWarning from kafkajs 2.2.4).
fixKafkajs();

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const value = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};
const quick = flag('--quick');
const only = value('--only')?.split(',').filter(Boolean);
const outDir = value('--out') ?? join(BENCH_DIR, 'results');
const sizes = quick ? QUICK : FULL;
const wanted = (id: string) => !only || only.includes(id);

const needs = new Set<string>();
if (wanted('10')) needs.add('kafka');
if (wanted('2') || wanted('3') || wanted('5') || wanted('8') || wanted('11') || wanted('12')) ['kafka', 'postgres'].forEach((n) => needs.add(n));
if (wanted('4')) ['redis', 's3'].forEach((n) => needs.add(n));
process.env.AWS_ACCESS_KEY_ID ??= 'microbatch-local';
process.env.AWS_SECRET_ACCESS_KEY ??= 'microbatch-local-secret';
process.env.AWS_REGION ??= 'us-east-1';

const started = performance.now();
// Before this run starts any service: the load other people put on the machine.
const loadBeforeServices = loadavg()[0]!;
// --private-services: throwaway instances on free ports, for a machine where the shared ones are
// started and stopped by other people's test runs in the middle of a benchmark.
const ENV_VARS: Record<string, string> = { kafka: 'KAFKA_BROKERS', postgres: 'DATABASE_URL', redis: 'REDIS_URL', s3: 'S3_ENDPOINT' };
async function privateServices(names: string[]) {
  const started: { stop(): Promise<void> }[] = [];
  for (const name of names) {
    const instance = (await startPrivateService(name)) as { url: string; stop(): Promise<void> };
    process.env[ENV_VARS[name]!] = instance.url;
    started.push(instance);
  }
  return { stop: async () => { for (const s of started.reverse()) await s.stop(); } };
}
const services = flag('--private-services') ? await privateServices([...needs]) : await ensureServices([...needs]);
const scenarios: ScenarioResult[] = [];
const failed = (id: string, title: string, target: string, error: unknown): ScenarioResult => ({
  id, title, target, project: '', baseline: '', ratio: Number.NaN, ratioOf: '', met: false,
  peakRssMB: { project: Number.NaN, baseline: Number.NaN }, details: {}, error: error instanceof Error ? error.message : String(error),
});
async function scenario(id: string, title: string, target: string, run: () => Promise<ScenarioResult | ScenarioResult[]>) {
  if (!wanted(id)) return;
  process.stderr.write(`[bench] scenario ${id}: ${title} (load ${loadavg()[0]!.toFixed(2)})\n`);
  try {
    let result: ScenarioResult | ScenarioResult[];
    try {
      result = await run();
    } catch (error) {
      // Other engineers rebuild packages on this machine: a dist/ caught mid-build is retried once.
      if (!String(error).includes('ERR_MODULE_NOT_FOUND')) throw error;
      process.stderr.write('[bench]   a workspace dist/ was being rebuilt; retrying in 10 s\n');
      await new Promise((r) => setTimeout(r, 10_000));
      result = await run();
    }
    for (const r of Array.isArray(result) ? result : [result]) {
      scenarios.push(r);
      process.stderr.write(`[bench]   ${r.id}: ${r.project} | baseline ${r.baseline} | ratio ${r.ratio.toFixed(2)} | target ${r.target}: ${r.met ? 'met' : 'MISSED'}\n`);
    }
  } catch (error) {
    process.stderr.write(`[bench]   scenario ${id} failed: ${error instanceof Error ? error.stack : error}\n`);
    scenarios.push(failed(id, title, target, error));
  }
}

let exitCode = 0;
try {
  const machine = await describeMachine();
  const e2e = new EndToEnd(sizes);
  try {
    // Latency-sensitive scenarios first: after the end-to-end ones, PostgreSQL keeps writing back
    // (and deleting) gigabytes for a while, and that I/O showed up as fs/Redis p99 spikes.
    await scenario('1', 'engine overhead', '>= 0.5', () => engineOverhead(sizes));
    await scenario('4', 'checkpoints', 'p99 < 10 ms (fs, Redis), < 50 ms (S3)', () => checkpoints(sizes));
    await scenario('7', 'scale', '< 20 ms per empty batch; < 1 GB', () => scale(sizes));
    await scenario('6', 'state', 'peak RSS < 2x live state', () => state(sizes));
    await scenario('9', 'event time', '>= 0.7x reduceByKey', () => eventTime(sizes));
    // Scenarios 2, 3 and 12 come from the same runs.
    const e2eId = ['2', '3', '12'].find(wanted);
    if (e2eId) await scenario(e2eId, 'end-to-end, the cost of exactly-once, the first batch', '>= 0.7 / >= 0.9 / >= 0.9', () => endToEnd(e2e));
    await scenario('5', 'recovery', 'first batch <= 2 s', () => recovery(e2e));
    await scenario('10', 'Kafka to Kafka, the cost of exactly-once', '>= 0.9', () => kafkaToKafka(sizes));
    await scenario('11', 'memory per record in flight', '<= 0.75 KB', () => pipelineMemory(sizes));
    await scenario('8', 'scale-out as a group', '>= 1.5x; CPU <= 1.2x; failover <= session timeout + 2 s', () => groupScaleOut(e2e, sizes));
  } finally {
    await e2e.close();
  }
  machine.loadEnd = loadavg()[0]!;
  const commit = gitCommit();
  const date = new Date().toISOString().slice(0, 10);
  const run: RunResults = {
    date: new Date().toISOString(),
    commit,
    mode: quick ? 'quick' : 'full',
    command: `pnpm bench${argv.length ? ` ${argv.join(' ')}` : ''}`,
    durationSec: (performance.now() - started) / 1000,
    machine: { ...machine, loadBeforeServices },
    scenarios: [...scenarios].sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true })),
  };
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `${date}-${commit}${quick ? '-quick' : ''}${only ? `-only-${only.join('_')}` : ''}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  const table = markdownTable(run);
  process.stdout.write(`\n${table}\n\nresults: ${file}\n`);
  if (!quick && !only && !flag('--no-readme')) updateReadme(join(BENCH_DIR, 'README.md'), table);
  if (scenarios.some((s) => s.error)) exitCode = 1;
} finally {
  await services.stop();
}
process.exit(exitCode);
