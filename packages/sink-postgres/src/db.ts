import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MicrobatchError, type Logger } from '@microbatch/core';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';

/** What a query returns, the same for node-postgres and PGlite. */
export interface SqlResult<R> {
  readonly rows: R[];
  readonly rowCount: number;
}

/** How one statement runs. */
export interface QueryOptions {
  /**
   * Keep the statement parsed and planned on its connection (a named prepared statement, named
   * after a hash of its text), so each later run of the same text on that connection only binds
   * and executes. For statements run on every transaction. node-postgres only; PGlite and an
   * adapter written by hand may ignore it. Default false.
   */
  readonly prepare?: boolean;
}

/** Anything that runs statements: an open transaction, or the database outside one. */
export interface SqlExecutor {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[], options?: QueryOptions): Promise<SqlResult<R>>;
}

/** An open transaction on one connection. Everything a sink writes goes through here. */
export interface SqlTransaction extends SqlExecutor {
  readonly driver: 'pg' | 'pglite';
  /**
   * `COPY <target> FROM STDIN` in text format, fed with `chunks` (complete lines, see
   * `encodeCopyRow`). `target` is the already quoted `table (col, ...)`. Resolves with the row count.
   */
  copyFrom(target: string, chunks: Iterable<string> | AsyncIterable<string>): Promise<number>;
  /** The underlying `pg.PoolClient` or PGlite `Transaction`, for anything this interface lacks. */
  readonly raw: unknown;
}

/**
 * The tiny adapter both sinks need: transactions on one dedicated connection, plus one-off
 * statements. `fromPool` and `fromPglite` make one; `toDatabase` accepts either kind of client.
 */
export interface Database extends SqlExecutor {
  readonly driver: 'pg' | 'pglite';
  /** Runs `fn` between BEGIN and COMMIT on one connection; ROLLBACK if it throws. */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  /** Ends the pool or PGlite instance only if this adapter created it. Safe twice. */
  close(): Promise<void>;
  /**
   * Opens up to `connections` pooled connections now (at most the pool's `max`) and returns them
   * to the pool, so the concurrent transactions of a first batch do not each pay a connection's
   * setup (TCP, TLS, authentication, a new server backend). On each, `prime` runs in a transaction
   * that is then rolled back (prepared statements outlive it: they belong to the connection), or
   * `SELECT 1` without one. PGlite has one in-process connection and needs none. Optional: an
   * adapter written by hand may leave it out.
   */
  warmUp?(connections: number, prime?: (tx: SqlTransaction) => Promise<void>): Promise<void>;
}

/** The part of PGlite the sinks use, structurally, so PGlite stays an optional dependency. */
export interface PgliteLike {
  query<R>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: R[]; affectedRows?: number }>;
  transaction<T>(fn: (tx: PgliteTransactionLike) => Promise<T>): Promise<T>;
  exec(text: string): Promise<unknown>;
  close(): Promise<void>;
}
interface PgliteTransactionLike {
  query<R>(text: string, params?: unknown[], options?: { blob?: Blob }): Promise<{ rows: R[]; affectedRows?: number }>;
}

/** A pg.Pool, a PGlite instance, an adapter, or a URI: `postgres://...` or `pglite:<dir>` / `pglite:memory`. */
export type DatabaseInput = pg.Pool | PgliteLike | Database | string;

export interface DatabaseOptions {
  readonly logger?: Logger;
}

export function isDatabase(value: unknown): value is Database {
  return typeof value === 'object' && value !== null && 'transaction' in value && 'driver' in value && 'close' in value;
}

function isPool(value: unknown): value is pg.Pool {
  return typeof value === 'object' && value !== null && typeof (value as pg.Pool).connect === 'function';
}

function isPglite(value: unknown): value is PgliteLike {
  const v = value as PgliteLike;
  return typeof value === 'object' && value !== null && typeof v.transaction === 'function' && typeof v.exec === 'function';
}

/** Wraps whatever the user passed; a URI makes a client this adapter owns (and closes). */
export async function toDatabase(input: DatabaseInput, options: DatabaseOptions = {}): Promise<Database> {
  if (isDatabase(input)) return input;
  if (typeof input === 'string') return openUri(input, options);
  if (isPool(input)) return fromPool(input, options);
  if (isPglite(input)) return fromPglite(input);
  throw new MicrobatchError('INVALID_OPTION', 'Invalid option "pool": expected a pg.Pool, a PGlite instance or a URI');
}

async function openUri(uri: string, options: DatabaseOptions): Promise<Database> {
  if (/^postgres(ql)?:\/\//.test(uri)) {
    return fromPool(new pg.Pool({ connectionString: uri }), { ...options, owned: true });
  }
  const pglite = /^pglite:(.*)$/.exec(uri);
  if (pglite) {
    // PGlite is an optional peer dependency: only a `pglite:` URI needs it at run time.
    let mod: { PGlite: new (dataDir?: string) => PgliteLike };
    try {
      mod = (await import('@electric-sql/pglite' as string)) as typeof mod;
    } catch (cause) {
      throw new MicrobatchError('INVALID_URI', `"${uri}" needs the optional dependency @electric-sql/pglite: pnpm add @electric-sql/pglite`, { cause });
    }
    const dir = pglite[1]!;
    return fromPglite(new mod.PGlite(dir === '' || dir === 'memory' ? undefined : dir), { owned: true });
  }
  throw new MicrobatchError('INVALID_URI', `Unsupported database URI "${uri.replace(/\/\/[^@/]*@/, '//***@')}": use postgres://... or pglite:<dir>`, {
    details: { uri: uri.replace(/\/\/[^@/]*@/, '//***@') },
  });
}

/**
 * node-postgres. Pitfalls handled here: a transaction always runs on one checked-out client
 * (never `pool.query`, whose statements may land on different connections); a client that failed
 * mid-transaction is released with `release(err)` so the pool destroys it instead of reusing a
 * broken connection; a checked-out client and the pool both get an `error` listener, since an
 * unhandled `error` event (e.g. the server restarting) would otherwise crash the process.
 */
export function fromPool(pool: pg.Pool, options: DatabaseOptions & { owned?: boolean } = {}): Database {
  const onPoolError = (error: Error) => options.logger?.warn({ err: error }, 'idle postgres client failed; the pool replaces it');
  pool.on('error', onPoolError);
  let closed = false;
  return {
    driver: 'pg',
    async query<R>(text: string, params?: readonly unknown[]) {
      // Never prepared: pool.query may run each time on another connection.
      const result = await pool.query(text, params as unknown[]);
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      const onClientError = (error: Error) => {
        broken = error;
      };
      client.on('error', onClientError);
      try {
        await client.query('BEGIN');
        const result = await fn(pgTransaction(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        broken ??= await rollback(client);
        throw error;
      } finally {
        client.removeListener('error', onClientError);
        // A truthy argument destroys the connection instead of returning it to the pool.
        client.release(broken ?? false);
      }
    },
    async warmUp(connections: number, prime?: (tx: SqlTransaction) => Promise<void>) {
      // All connects are asked for before any returns its client, so the pool opens new ones
      // rather than handing the same idle client round.
      const count = Math.min(connections, pool.options.max ?? 10);
      await Promise.all(
        Array.from({ length: count }, async () => {
          const client = await pool.connect();
          let broken: Error | undefined;
          try {
            if (prime) {
              await client.query('BEGIN');
              try {
                await prime(pgTransaction(client));
              } finally {
                await client.query('ROLLBACK');
              }
            } else {
              await client.query('SELECT 1');
            }
          } catch (error) {
            broken = error as Error;
            throw error;
          } finally {
            client.release(broken ?? false);
          }
        }),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      pool.removeListener('error', onPoolError);
      if (options.owned) await pool.end();
    },
  };
}

/** ROLLBACK after a failure; returns the error if the connection itself is unusable. */
async function rollback(client: pg.PoolClient): Promise<Error | undefined> {
  try {
    await client.query('ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function pgTransaction(client: pg.PoolClient): SqlTransaction {
  return {
    driver: 'pg',
    raw: client,
    async query<R>(text: string, params?: readonly unknown[], options?: QueryOptions) {
      const result = await client.query(options?.prepare ? { name: statementName(text), text, values: params as unknown[] } : { text, values: params as unknown[] });
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 };
    },
    async copyFrom(target, chunks) {
      const stream = client.query(copyStreams.from(`COPY ${target} FROM STDIN`));
      await pipeline(Readable.from(chunks, { objectMode: false }), stream);
      return Number(stream.rowCount ?? 0);
    },
  };
}

/** `executor` with every statement prepared (see QueryOptions.prepare). */
export function preparing(executor: SqlExecutor): SqlExecutor {
  return { query: (text, params) => executor.query(text, params, { prepare: true }) };
}

const statementNames = new Map<string, string>();

/**
 * A prepared statement's name: node-postgres refuses one name for two texts on a connection, so
 * the name is the text's hash. Remembered, as the same few texts come back on every transaction.
 */
export function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `microbatch_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;
    if (statementNames.size >= 1000) statementNames.clear();
    statementNames.set(text, name);
  }
  return name;
}

/**
 * PGlite: one embedded connection, so its `transaction` is already exclusive; concurrent
 * partitions simply queue. COPY reads from the `/dev/blob` pseudo-file instead of STDIN.
 */
export function fromPglite(db: PgliteLike, options: { owned?: boolean } = {}): Database {
  let closed = false;
  return {
    driver: 'pglite',
    async query<R>(text: string, params?: readonly unknown[]) {
      return pgliteResult(await db.query<R>(text, params as unknown[]));
    },
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({
          driver: 'pglite',
          raw: tx,
          async query<R>(text: string, params?: readonly unknown[]) {
            return pgliteResult(await tx.query<R>(text, params as unknown[]));
          },
          async copyFrom(target, chunks) {
            const parts: string[] = [];
            for await (const chunk of chunks) parts.push(chunk);
            const result = await tx.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob(parts) });
            return result.affectedRows ?? 0;
          },
        }),
      ),
    async close() {
      if (closed) return;
      closed = true;
      if (options.owned) await db.close();
    },
  };
}

function pgliteResult<R>(result: { rows: R[]; affectedRows?: number }): SqlResult<R> {
  return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
}
