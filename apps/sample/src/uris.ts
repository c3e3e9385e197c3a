import { MicrobatchError } from '@microbatch/core';

export type CheckpointSpec =
  | { readonly kind: 'fs'; readonly dir: string }
  | { readonly kind: 'redis'; readonly url: string; readonly keyPrefix?: string }
  | { readonly kind: 's3'; readonly bucket: string; readonly prefix: string; readonly endpoint?: string; readonly region?: string };

export type SinkSpec =
  | { readonly kind: 'pglite'; readonly dir: string }
  | { readonly kind: 'postgres'; readonly url: string }
  | KafkaSinkSpec;

/** `kafka://host:port[,host:port]/PREFIX`: the four outputs are the topics PREFIX.events_raw, ... */
export interface KafkaSinkSpec {
  readonly kind: 'kafka';
  readonly brokers: string[];
  readonly prefix: string;
}

const invalid = (uri: string, why: string, cause?: unknown) =>
  new MicrobatchError('INVALID_URI', `Invalid URI ${redactUri(uri)}: ${why}`, { cause, details: { uri: redactUri(uri) } });

/** Never prints a password. */
export function redactUri(uri: string): string {
  return uri.replace(/\/\/([^:/@]*):([^@]*)@/, '//$1:***@');
}

/** `fs:<dir>` | `redis://host:port[/db][?prefix=...]` | `s3://bucket/prefix?endpoint=http://host:port` */
export function parseCheckpointUri(uri: string): CheckpointSpec {
  if (uri.startsWith('fs:')) {
    const dir = uri.slice(3);
    if (!dir) throw invalid(uri, 'fs: needs a directory, e.g. fs:.microbatch/checkpoints');
    return { kind: 'fs', dir };
  }
  let url: URL;
  try {
    url = new URL(uri);
  } catch (cause) {
    throw invalid(uri, 'expected fs:<dir>, redis://host:port[/db][?prefix=...] or s3://bucket/prefix?endpoint=...', cause);
  }
  if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
    if (!url.hostname) throw invalid(uri, 'redis:// needs a host');
    const db = url.pathname.replace(/^\//, '');
    if (db && !/^\d+$/.test(db)) throw invalid(uri, `the database "${db}" is not a number`);
    const keyPrefix = url.searchParams.get('prefix') ?? undefined;
    for (const key of url.searchParams.keys()) if (key !== 'prefix') throw invalid(uri, `unknown parameter "${key}"`);
    url.search = '';
    return { kind: 'redis', url: url.toString(), ...(keyPrefix ? { keyPrefix } : {}) };
  }
  if (url.protocol === 's3:') {
    if (!url.hostname) throw invalid(uri, 's3:// needs a bucket: s3://bucket/prefix');
    const endpoint = url.searchParams.get('endpoint') ?? undefined;
    if (endpoint !== undefined) {
      try {
        new URL(endpoint);
      } catch (cause) {
        throw invalid(uri, `endpoint "${endpoint}" is not a URL`, cause);
      }
    }
    const region = url.searchParams.get('region') ?? undefined;
    for (const key of url.searchParams.keys()) if (key !== 'endpoint' && key !== 'region') throw invalid(uri, `unknown parameter "${key}"`);
    const path = url.pathname.replace(/^\/+/, '');
    const prefix = path === '' ? 'microbatch/' : path.endsWith('/') ? path : `${path}/`;
    return { kind: 's3', bucket: url.hostname, prefix, ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}) };
  }
  throw invalid(uri, `unknown scheme "${url.protocol}"; expected fs:, redis:// or s3://`);
}

/** `pglite:<dir>` | `postgres://...` | `postgresql://...` | `kafka://host:port[,host:port]/PREFIX` */
export function parseSinkUri(uri: string): SinkSpec {
  if (uri.startsWith('kafka://')) return parseKafkaSinkUri(uri);
  if (uri.startsWith('pglite:')) {
    const dir = uri.slice('pglite:'.length);
    if (!dir) throw invalid(uri, 'pglite: needs a directory, e.g. pglite:.microbatch/pglite');
    return { kind: 'pglite', dir };
  }
  if (/^postgres(ql)?:\/\//.test(uri)) {
    try {
      const url = new URL(uri);
      if (!url.hostname && !url.searchParams.get('host')) throw new Error('no host');
    } catch (cause) {
      throw invalid(uri, 'not a valid postgres:// URL', cause);
    }
    return { kind: 'postgres', url: uri };
  }
  throw invalid(uri, 'expected pglite:<dir> or postgres://user@host:port/db (or kafka://host:port/PREFIX)');
}

// Kafka's rule for topic names; the prefix leaves room for the longest suffix (".events_rejected").
const TOPIC_PREFIX = /^[a-zA-Z0-9._-]{1,200}$/;

function parseKafkaSinkUri(uri: string): KafkaSinkSpec {
  // Not WHATWG URL: a broker list has commas in the authority.
  const match = /^kafka:\/\/([^/?#]+)\/([^/?#]*)$/.exec(uri);
  if (!match) throw invalid(uri, 'expected kafka://host:port[,host:port]/PREFIX (the topics are PREFIX.events_raw, PREFIX.events_rejected, PREFIX.page_views, PREFIX.user_totals)');
  const brokers = match[1]!.split(',').map((b) => b.trim()).filter(Boolean);
  for (const broker of brokers) if (!/^[^:\s]+:\d+$/.test(broker)) throw invalid(uri, `the broker "${broker}" is not host:port`);
  const prefix = match[2]!;
  if (!TOPIC_PREFIX.test(prefix)) throw invalid(uri, `the topic prefix "${prefix}" must be 1-200 of a-z A-Z 0-9 . _ - (e.g. kafka://host:9092/sample)`);
  return { kind: 'kafka', brokers, prefix };
}
