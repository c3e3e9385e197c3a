// The machine a run measured: what the README's table must be read against.
import { execFileSync } from 'node:child_process';
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import pg from 'pg';
import { Redis } from 'ioredis';

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGB: number;
  readonly freeMemoryGB: number;
  readonly node: string;
  readonly kafka: string;
  readonly postgres: string;
  readonly redis: string;
  readonly s3: string;
  /** 1-minute load average at the start and end of the run: other load on a shared machine. */
  readonly loadStart: number;
  loadEnd?: number;
  /** Before the run started any service (only others' load). */
  loadBeforeServices?: number;
}

/** Best effort: the version in the running broker's classpath (tools/services starts kafka-<version>). */
function kafkaVersion(): string {
  try {
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    const match = /kafka[_-](?:2\.13-)?(\d+\.\d+\.\d+)/.exec(ps.split('\n').find((l) => l.includes('kafka.Kafka')) ?? '');
    return match ? match[1]! : 'unknown';
  } catch {
    return 'unknown';
  }
}

function s3Version(): string {
  try {
    const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
    const match = /s3proxy-(\d+\.\d+\.\d+)/.exec(ps);
    return match ? `s3proxy ${match[1]}` : 'unknown';
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(): Promise<Machine> {
  let postgres = 'unknown';
  if (process.env.DATABASE_URL) {
    const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
    try {
      await client.connect();
      postgres = (await client.query('SHOW server_version')).rows[0].server_version;
    } catch {}
    await client.end().catch(() => {});
  }
  let redis = 'unknown';
  if (process.env.REDIS_URL) {
    const client = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      redis = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
    } catch {}
    client.disconnect();
  }
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kafka: process.env.KAFKA_BROKERS ? kafkaVersion() : 'not used',
    postgres,
    redis,
    s3: process.env.S3_ENDPOINT ? s3Version() : 'not used',
    loadStart: loadavg()[0]!,
  };
}

export function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
