import { MicrobatchError } from '@microbatch/core';
import type { Row } from './diff.js';

/** One of the two runs, as the prepare and snapshot steps and the app see it (also as MICROBATCH_VERIFY_* variables). */
export interface RunInfo {
  /** `a`: uninterrupted; `b`: with kills. */
  readonly run: 'a' | 'b';
  /** A name for this run's output targets (tables, key prefixes, app id): `<targetPrefix>_<run>`, only [a-z0-9_]. */
  readonly target: string;
  /** A fresh directory for this run (e.g. its fs: checkpoints). */
  readonly dir: string;
  /** The input topic filled by `input`, if any. */
  readonly topic?: string;
  /** The variables the app, prepare and snapshot commands get. */
  readonly env: Readonly<Record<string, string>>;
}

/** A shell command (run with `sh -c`, the run's variables set), or a function. */
export type Step = string | ((run: RunInfo) => void | Promise<void>);
/** A shell command printing one JSON object per line, or a function returning the rows. */
export type SnapshotStep = string | ((run: RunInfo) => readonly Row[] | Promise<readonly Row[]>);

/** A fresh Kafka topic both runs read: records from a JSON-lines file or a generator module. */
export interface KafkaInput {
  readonly brokers: readonly string[];
  /** Default `verify-input-<stamp>`; must not exist yet. */
  readonly topic?: string;
  /** Default 4. */
  readonly partitions?: number;
  /** Each line `{"key"?: string, "value": string | object, "partition"?: number, "headers"?: {...}}`. */
  readonly file?: string;
  /** A module whose default export is a function returning an (async) iterable of such records. */
  readonly generator?: string;
}

export interface VerifyOptions {
  /** Starts the application: a shell command, or [program, ...args]. It must stop by itself once idle (the verifier sets MICROBATCH_VERIFY_STOP_WHEN_IDLE=1, which does that for any microbatch app). */
  readonly app: string | readonly string[];
  /** Makes fresh, empty output targets for a run. Default: none (the app creates them). */
  readonly prepare?: Step;
  /** Reads a run's outputs as rows. */
  readonly snapshot: SnapshotStep;
  /** Columns identifying a row; with them the diff says "changed" instead of missing + unexpected. Default: the whole row. */
  readonly key?: readonly string[];
  /** SIGKILLs in run B. Default 10. */
  readonly kills?: number;
  /** Seeds the choice of kill points and delays. Default: random (printed, to replay a run). */
  readonly seed?: number;
  /** Run the app as N members of a group (each started with MICROBATCH_VERIFY_MEMBER=i, MICROBATCH_VERIFY_MEMBERS=N); kills hit random members, and 0-2 replacements follow each kill. Default 0: one process. */
  readonly members?: number;
  /** Fill a fresh Kafka topic first. Default: none (the app has its own input). */
  readonly input?: KafkaInput;
  /** Default `verify_<stamp>`. */
  readonly targetPrefix?: string;
  /** Working directory of the commands. Default: process.cwd(). */
  readonly cwd?: string;
  /** Extra variables for the commands. */
  readonly env?: Readonly<Record<string, string>>;
  /** Run A computes every batch twice and reports nondeterministic outputs. Default true. */
  readonly determinismCheck?: boolean;
  /** How long one app process may run before it counts as hung. Default 300000. */
  readonly processTimeoutMs?: number;
  /** Where trace files and the processes' logs go. Default: a new temporary directory. */
  readonly workDir?: string;
  /** Progress lines. Default: none. */
  readonly write?: (line: string) => void;
}

export interface ResolvedVerifyOptions extends Required<Omit<VerifyOptions, 'prepare' | 'input' | 'key' | 'seed' | 'workDir' | 'env'>> {
  readonly prepare: Step | undefined;
  readonly input: KafkaInput | undefined;
  readonly key: readonly string[] | undefined;
  readonly seed: number;
  readonly workDir: string | undefined;
  readonly env: Readonly<Record<string, string>>;
}

const invalid = (option: string, message: string, value: unknown) =>
  new MicrobatchError('INVALID_OPTION', `microbatch-verify: ${option} ${message}`, {
    cause: new TypeError(`${option}: ${message} (got ${describe(value)})`),
    details: { option, value },
  });

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

const intAtLeast = (option: string, value: unknown, min: number, fallback: number): number => {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalid(option, `must be an integer >= ${min}`, value);
  return value;
};

const stepLike = (option: string, value: unknown): void => {
  if (typeof value === 'function') return;
  if (typeof value !== 'string' || value.trim() === '') throw invalid(option, 'must be a non-empty shell command or a function', value);
};

export function resolveVerifyOptions(options: VerifyOptions): ResolvedVerifyOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'must be an object', options);
  const { app } = options;
  const appOk = typeof app === 'string' ? app.trim() !== '' : Array.isArray(app) && app.length > 0 && app.every((a) => typeof a === 'string');
  if (!appOk) throw invalid('app', 'must be a non-empty shell command or [program, ...args]', app);
  if (options.prepare !== undefined) stepLike('prepare', options.prepare);
  if (options.snapshot === undefined) throw invalid('snapshot', 'is required: a command printing JSON lines, or a function returning rows (see postgresSnapshot, redisSnapshot)', undefined);
  stepLike('snapshot', options.snapshot);
  if (options.key !== undefined && (!Array.isArray(options.key) || !options.key.every((k) => typeof k === 'string' && k !== ''))) {
    throw invalid('key', 'must be a list of column names', options.key);
  }
  const targetPrefix = options.targetPrefix ?? `verify_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  if (typeof targetPrefix !== 'string' || !/^[a-z][a-z0-9_]{0,40}$/.test(targetPrefix)) {
    throw invalid('targetPrefix', 'must be 1-41 characters of a-z 0-9 _ starting with a letter (it names tables and topics)', targetPrefix);
  }
  if (options.input !== undefined) resolveInput(options.input);
  if (options.write !== undefined && typeof options.write !== 'function') throw invalid('write', 'must be a function', options.write);
  if (options.env !== undefined && (typeof options.env !== 'object' || !Object.values(options.env).every((v) => typeof v === 'string'))) {
    throw invalid('env', 'must map names to strings', options.env);
  }
  return {
    app,
    prepare: options.prepare,
    snapshot: options.snapshot,
    key: options.key,
    kills: intAtLeast('kills', options.kills, 0, 10),
    seed: intAtLeast('seed', options.seed, 0, Math.floor(Math.random() * 2 ** 31)),
    members: intAtLeast('members', options.members, 0, 0),
    input: options.input,
    targetPrefix,
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? {},
    determinismCheck: options.determinismCheck ?? true,
    processTimeoutMs: intAtLeast('processTimeoutMs', options.processTimeoutMs, 1000, 300_000),
    workDir: options.workDir,
    write: options.write ?? (() => {}),
  };
}

export function resolveInput(input: KafkaInput): Required<Omit<KafkaInput, 'file' | 'generator' | 'topic'>> & KafkaInput {
  if (typeof input !== 'object' || input === null) throw invalid('input', 'must be an object', input);
  if (!Array.isArray(input.brokers) || input.brokers.length === 0 || !input.brokers.every((b) => typeof b === 'string' && /^[^\s:]+:\d+$/.test(b))) {
    throw invalid('input.brokers', 'must be a list of host:port', input.brokers);
  }
  if ((input.file === undefined) === (input.generator === undefined)) throw invalid('input', 'needs exactly one of file or generator', input);
  if (input.topic !== undefined && (typeof input.topic !== 'string' || !/^[A-Za-z0-9._-]{1,200}$/.test(input.topic))) {
    throw invalid('input.topic', 'must be a Kafka topic name (A-Z a-z 0-9 . _ -)', input.topic);
  }
  return { ...input, partitions: intAtLeast('input.partitions', input.partitions, 1, 4) };
}
