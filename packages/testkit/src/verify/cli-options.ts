import { MicrobatchError } from '@microbatch/core';
import type { VerifyOptions } from './options.js';
import { kafkaSnapshot } from './kafka-snapshot.js';
import { postgresPrepare, postgresSnapshot, redisSnapshot } from './snapshots.js';

interface Flag {
  readonly name: string;
  readonly value: 'string' | 'int' | 'boolean';
  readonly help: string;
}

export const VERIFY_FLAGS: readonly Flag[] = [
  { name: 'app', value: 'string', help: 'command that starts your application (run with sh -c; required)' },
  { name: 'prepare', value: 'string', help: 'command that makes fresh, empty output targets for a run' },
  { name: 'prepare-sql', value: 'string', help: 'SQL run on --database-url to prepare a run ({target} = the run\'s target name)' },
  { name: 'snapshot', value: 'string', help: 'command printing the outputs of a run as JSON lines (one row per line)' },
  { name: 'snapshot-sql', value: 'string', help: 'SQL query on --database-url whose rows are the snapshot ({target} = the run\'s target)' },
  { name: 'snapshot-redis', value: 'string', help: 'Redis key pattern on --redis-url whose keys and values are the snapshot ({target} = the run\'s target)' },
  { name: 'snapshot-kafka', value: 'string', help: 'Kafka topic on --brokers read with read_committed, one row per record ({target} = the run\'s target)' },
  { name: 'database-url', value: 'string', help: 'PostgreSQL for --snapshot-sql / --prepare-sql (default $DATABASE_URL)' },
  { name: 'redis-url', value: 'string', help: 'Redis for --snapshot-redis (default $REDIS_URL)' },
  { name: 'key', value: 'string', help: 'comma-separated columns that identify a row (default: the whole row)' },
  { name: 'kills', value: 'int', help: 'SIGKILLs in the run with kills (default 10)' },
  { name: 'seed', value: 'int', help: 'seed of the kill plan (default random; printed)' },
  { name: 'members', value: 'int', help: 'run the app as N group members (MICROBATCH_VERIFY_MEMBER=i, MICROBATCH_VERIFY_MEMBERS=N; default 0: one process)' },
  { name: 'input-file', value: 'string', help: 'JSON-lines records to produce into a fresh Kafka topic first ({"key","value","partition"?})' },
  { name: 'input-generator', value: 'string', help: 'module whose default export returns an iterable of such records' },
  { name: 'brokers', value: 'string', help: 'Kafka brokers for the input and --snapshot-kafka, host:port[,...] (default $KAFKA_BROKERS)' },
  { name: 'topic', value: 'string', help: 'name of the fresh input topic (default <target-prefix>-input); the app reads $MICROBATCH_VERIFY_TOPIC' },
  { name: 'partitions', value: 'int', help: 'partitions of the input topic (default 4)' },
  { name: 'target-prefix', value: 'string', help: 'the runs\' targets are <prefix>_a and <prefix>_b (default verify_<stamp>)' },
  { name: 'no-determinism-check', value: 'boolean', help: 'do not compute every batch of run A twice' },
  { name: 'timeout-ms', value: 'int', help: 'how long one app process may run (default 300000)' },
  { name: 'work-dir', value: 'string', help: 'where trace files and logs go (default a new temporary directory)' },
  { name: 'help', value: 'boolean', help: 'this text' },
];

export function verifyHelp(): string {
  return [
    'microbatch-verify: run your microbatch app uninterrupted and under SIGKILLs at the protocol points, on the same input, and compare the outputs.',
    'Exit 0: identical. 1: they differ (or a cause was found). 2: bad options.',
    '',
    ...VERIFY_FLAGS.map((f) => `  --${f.name}${f.value === 'boolean' ? '' : ` <${f.value === 'int' ? 'n' : 'value'}>`}`.padEnd(30) + f.help),
    '',
    'Every command gets MICROBATCH_VERIFY_RUN (a|b), MICROBATCH_VERIFY_TARGET, MICROBATCH_VERIFY_DIR (a fresh directory) and MICROBATCH_VERIFY_TOPIC.',
  ].join('\n');
}

const bad = (message: string, value?: unknown) => new MicrobatchError('INVALID_OPTION', `microbatch-verify: ${message}`, { cause: new TypeError(`${message} (got ${String(value)})`), details: { value } });

/** Flags -> the options of verifyPipeline; `help` when --help was given. */
export function parseVerifyArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): VerifyOptions | 'help' {
  const values = new Map<string, string | number | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.startsWith('--') ? (arg.slice(2).split(/=(.*)/s) as [string, string | undefined]) : [undefined, undefined];
    const flag = VERIFY_FLAGS.find((f) => f.name === name);
    if (!flag) throw bad(`unknown argument ${arg} (see --help)`, arg);
    if (values.has(flag.name)) throw bad(`--${flag.name} given twice`, arg);
    if (flag.value === 'boolean') {
      values.set(flag.name, true);
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw bad(`--${flag.name} needs a value`);
    if (flag.value === 'int') {
      if (!/^\d+$/.test(raw)) throw bad(`--${flag.name} must be a whole number`, raw);
      values.set(flag.name, Number(raw));
    } else values.set(flag.name, raw);
  }
  if (values.get('help')) return 'help';
  const str = (name: string) => values.get(name) as string | undefined;
  const int = (name: string) => values.get(name) as number | undefined;
  if (!str('app')) throw bad('--app is required: the command that starts your application');
  const snapshots = ['snapshot', 'snapshot-sql', 'snapshot-redis', 'snapshot-kafka'].filter((n) => values.has(n));
  if (snapshots.length !== 1) throw bad(`give exactly one of --snapshot, --snapshot-sql, --snapshot-redis, --snapshot-kafka (got ${snapshots.length})`, snapshots.join(','));
  if (values.has('prepare') && values.has('prepare-sql')) throw bad('give --prepare or --prepare-sql, not both');
  const databaseUrl = () => {
    const url = str('database-url') ?? env.DATABASE_URL;
    if (!url) throw bad('--snapshot-sql and --prepare-sql need --database-url (or DATABASE_URL)');
    return url;
  };
  const brokers = (str('brokers') ?? env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
  const snapshot: VerifyOptions['snapshot'] = str('snapshot')
    ?? (values.has('snapshot-sql')
      ? postgresSnapshot({ url: databaseUrl(), query: str('snapshot-sql')! })
      : values.has('snapshot-redis')
        ? redisSnapshot({ url: str('redis-url') ?? env.REDIS_URL ?? '', pattern: str('snapshot-redis')! })
        : kafkaSnapshot({ brokers, topic: str('snapshot-kafka')! }));
  const prepare = str('prepare') ?? (values.has('prepare-sql') ? postgresPrepare({ url: databaseUrl(), sql: str('prepare-sql')! }) : undefined);
  if (values.has('input-file') && values.has('input-generator')) throw bad('give --input-file or --input-generator, not both');
  const inputSource = str('input-file') !== undefined ? { file: str('input-file')! } : str('input-generator') !== undefined ? { generator: str('input-generator')! } : undefined;
  if (!inputSource && (values.has('topic') || values.has('partitions'))) throw bad('--topic and --partitions describe the input topic: give --input-file or --input-generator too');
  const key = str('key')?.split(',').map((k) => k.trim());
  return {
    app: str('app')!,
    snapshot,
    ...(prepare ? { prepare } : {}),
    ...(key ? { key } : {}),
    ...(int('kills') !== undefined ? { kills: int('kills')! } : {}),
    ...(int('seed') !== undefined ? { seed: int('seed')! } : {}),
    ...(int('members') !== undefined ? { members: int('members')! } : {}),
    ...(inputSource ? { input: { brokers, ...inputSource, ...(str('topic') ? { topic: str('topic')! } : {}), ...(int('partitions') !== undefined ? { partitions: int('partitions')! } : {}) } } : {}),
    ...(str('target-prefix') ? { targetPrefix: str('target-prefix')! } : {}),
    ...(values.has('no-determinism-check') ? { determinismCheck: false } : {}),
    ...(int('timeout-ms') !== undefined ? { processTimeoutMs: int('timeout-ms')! } : {}),
    ...(str('work-dir') ? { workDir: str('work-dir')! } : {}),
  };
}
