// Where a child's CPU time went, from the V8 profiles BENCH_CPU_PROF writes (bench/profiles):
//   node --import tsx src/profile-summary.ts profiles/pipeline-*.cpuprofile
// Prints, per file, the share of sampled time by package (or V8 bucket: GC, idle) and the
// functions with the most self time. Shares are of all samples, idle and startup included.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface Profile {
  readonly nodes: readonly { readonly id: number; readonly callFrame: CallFrame }[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** `kafkajs`, `packages/sink-postgres`, `apps/sample`, `node:buffer`, or V8's `(garbage collector)`. */
function owner(frame: CallFrame): string {
  const { url } = frame;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : `(native) ${frame.functionName}`;
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1]!;
  const workspace = /\/((?:packages|apps|bench)\/[^/]+)\//.exec(url);
  if (workspace) return workspace[1]!;
  return url.startsWith('node:') ? url.split('/').slice(0, 2).join('/') : url;
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^file:\/\/.*?\/((?:packages|apps|bench)\/)/, '$1');
}

function top<K>(counts: Map<K, number>, n: number): [K, number][] {
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, n);
}

for (const file of process.argv.slice(2)) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const frame = frames.get(id)!;
    total += us;
    byOwner.set(owner(frame), (byOwner.get(owner(frame)) ?? 0) + us);
    const name = `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
  });
  const pct = (us: number) => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
  console.log(`${basename(file)}: ${(total / 1e6).toFixed(2)} s sampled`);
  for (const [name, us] of top(byOwner, 15)) console.log(`  ${pct(us)}  ${name}`);
  console.log('  self time, top functions:');
  for (const [name, us] of top(byFunction, 25)) console.log(`  ${pct(us)}  ${name}`);
}
