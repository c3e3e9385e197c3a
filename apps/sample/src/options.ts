import { MicrobatchError } from '@microbatch/core';
import { parseCheckpointUri, parseSinkUri, type CheckpointSpec, type SinkSpec } from './uris.js';

/** A bad command line: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  readonly name: string;
  readonly kind: 'string' | 'int' | 'boolean';
  readonly default?: string | number | boolean;
  readonly help: string;
}

/** `MICROBATCH_<FLAG>`: e.g. --batch-interval is MICROBATCH_BATCH_INTERVAL. */
export const envName = (flag: string) => `MICROBATCH_${flag.toUpperCase().replace(/-/g, '_')}`;

/** Parses `--flag value`, `--flag=value` and boolean `--flag`; flags win over MICROBATCH_* variables, which win over defaults. */
export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[], env: NodeJS.ProcessEnv = process.env): Record<string, string | number | boolean | undefined> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const raw = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    if (spec.kind === 'boolean') raw.set(name, inline === undefined ? true : inline);
    else {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
      raw.set(name, value);
    }
  }
  const out: Record<string, string | number | boolean | undefined> = {};
  for (const spec of specs) {
    const given = raw.get(spec.name) ?? env[envName(spec.name)];
    out[spec.name] = given === undefined ? spec.default : convert(spec, given);
  }
  return out;
}

function convert(spec: FlagSpec, value: string | true): string | number | boolean {
  if (spec.kind === 'boolean') {
    if (value === true || value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
    throw new UsageError(`--${spec.name} is true or false, not "${value}"`);
  }
  if (spec.kind === 'int') {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${spec.name} must be a whole number >= 0, not "${value}"`);
    return n;
  }
  return String(value);
}

export function helpText(command: string, summary: string, specs: readonly FlagSpec[]): string {
  const lines = specs.map((s) => {
    const flag = `--${s.name}${s.kind === 'boolean' ? '' : ` <${s.kind === 'int' ? 'n' : 'value'}>`}`;
    const def = s.default === undefined ? '' : ` (default ${String(s.default)})`;
    return `  ${flag.padEnd(34)} ${s.help}${def}\n  ${''.padEnd(34)} env ${envName(s.name)}`;
  });
  return `microbatch-sample ${command}: ${summary}\n\n${lines.join('\n')}\n`;
}

/** Turns a URI error into a usage error (exit 2); anything else passes through. */
export function uriOrUsage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof MicrobatchError && error.code === 'INVALID_URI') throw new UsageError(error.message);
    throw error;
  }
}

export const checkpointFrom = (uri: string): CheckpointSpec => uriOrUsage(() => parseCheckpointUri(uri));
export const sinkFrom = (uri: string): SinkSpec => uriOrUsage(() => parseSinkUri(uri));

export function brokersFrom(value: string | undefined): string[] {
  // Accepts the form KAFKA_BROKERS often has too: kafka://host:port,host:port
  const brokers = (value ?? '').split(',').map((b) => b.trim().replace(/^kafka:\/\//, '')).filter(Boolean);
  if (brokers.length === 0) throw new UsageError('--brokers is required with --source kafka (host:port[,host:port])');
  for (const b of brokers) if (!/^[^:\s]+:\d+$/.test(b)) throw new UsageError(`--brokers: "${b}" is not host:port`);
  return brokers;
}

/** Flags shared by run, produce, verify and crash-test. */
export const shapeFlags: FlagSpec[] = [
  { name: 'events', kind: 'int', default: 200_000, help: 'number of generated events' },
  { name: 'partitions', kind: 'int', default: 8, help: 'partitions of the generator or topic' },
  { name: 'seed', kind: 'int', default: 1, help: 'seed of the generated events' },
];

export const sourceFlags: FlagSpec[] = [
  { name: 'source', kind: 'string', default: 'memory', help: 'memory (the deterministic generator) or kafka' },
  { name: 'brokers', kind: 'string', help: 'Kafka brokers, host:port[,host:port]' },
  { name: 'topic', kind: 'string', default: 'events', help: 'Kafka topic' },
];

export const storeFlags: FlagSpec[] = [
  { name: 'checkpoint', kind: 'string', default: 'fs:.microbatch/checkpoints', help: 'fs:<dir> | redis://host:port[/db][?prefix=...] | s3://bucket/prefix?endpoint=http://host:port' },
  { name: 'sink', kind: 'string', default: 'pglite:.microbatch/pglite', help: 'pglite:<dir> | postgres://... (or postgresql://...) | kafka://host:port[,host:port]/PREFIX (topics PREFIX.events_raw, ...)' },
  { name: 'app-id', kind: 'string', default: 'sample', help: 'application id (checkpoints and commit markers)' },
];

export function assertShape(o: Record<string, unknown>): void {
  if ((o.partitions as number) < 1) throw new UsageError('--partitions must be at least 1');
  if (o.source !== 'memory' && o.source !== 'kafka') throw new UsageError(`--source is memory or kafka, not "${String(o.source)}"`);
}
