import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MicrobatchError, REDACTED, createDefaultLogger, isMicrobatchError, redactSecrets, redactString } from '../src/index.js';

const tsx = createRequire(import.meta.url).resolve('tsx');
const fixture = fileURLToPath(new URL('./fixtures/logging-child.ts', import.meta.url));

function capture(options: { level?: string; pretty?: boolean } = {}, bindings: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const logger = createDefaultLogger(bindings, { pretty: false, ...options, destination: { write: (line: string) => lines.push(line) } });
  return { logger, lines, json: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('redactSecrets', () => {
  it('masks passwords in URIs and keeps the rest of the URI', () => {
    expect(redactString('postgres://app:hunter2@db:5432/orders')).toBe(`postgres://app:${REDACTED}@db:5432/orders`);
    expect(redactString('redis://:s3cret@cache:6379/0')).toBe(`redis://:${REDACTED}@cache:6379/0`);
    expect(redactString('see mongodb+srv://u:p%40ss@cluster.example/db?retryWrites=true')).toBe(
      `see mongodb+srv://u:${REDACTED}@cluster.example/db?retryWrites=true`,
    );
    expect(redactString('postgres://app@db/orders (no password)')).toBe('postgres://app@db/orders (no password)');
    expect(redactString('https://bucket.s3/key?X-Amz-Signature=abcdef0123&X-Amz-Expires=60')).toBe(
      `https://bucket.s3/key?X-Amz-Signature=${REDACTED}&X-Amz-Expires=60`,
    );
  });

  it('masks AWS keys, bearer tokens and authorization headers in text', () => {
    const text = 'AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const out = redactString(text);
    expect(out).not.toContain('AKIAIOSFODNN7EXAMPLE');
    expect(out).not.toContain('wJalrXUtnFEMI');
    expect(redactString('Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig')).toBe(`Authorization: ${REDACTED}`);
    expect(redactString('sent Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig')).toBe(`sent Bearer ${REDACTED}`);
    expect(redactString('a basic check of 12 records')).toBe('a basic check of 12 records');
  });

  it('replaces secret-named fields at any depth, copies errors with their causes, and leaves the input alone', () => {
    const cause = Object.assign(new Error('auth failed for postgres://u:pw@h/db'), { code: '28P01' });
    const error = new MicrobatchError('SINK_FAILED', 'output failed', { cause, details: { output: 'totals' } });
    const input: Record<string, unknown> = {
      s3: { credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'x' }, region: 'eu-west-1' },
      headers: { Authorization: 'Basic dXNlcjpwYXNz', 'content-type': 'json' },
      kafka: { sasl: { mechanism: 'plain', username: 'u', password: 'p' } },
      list: ['redis://:pw@h', 3],
      err: error,
    };
    input.self = input;
    const out = redactSecrets(input) as Record<string, any>;
    expect(out.s3).toEqual({ credentials: REDACTED, region: 'eu-west-1' });
    expect(out.headers).toEqual({ Authorization: REDACTED, 'content-type': 'json' });
    expect(out.kafka.sasl).toEqual({ mechanism: 'plain', username: 'u', password: REDACTED });
    expect(out.list).toEqual([`redis://:${REDACTED}@h`, 3]);
    expect(out.self).toBe('[Circular]');
    expect(out.err).toMatchObject({ type: 'MicrobatchError', code: 'SINK_FAILED', details: { output: 'totals' } });
    expect(out.err.message).toContain('output failed');
    expect(out.err.message).toContain(`postgres://u:${REDACTED}@h/db`);
    expect(JSON.stringify(out)).not.toMatch(/AKIAIOSFODNN7EXAMPLE|dXNlcjpwYXNz|:pw@/);
    expect((input.kafka as any).sasl.password).toBe('p');
    expect(cause.message).toContain('u:pw@');
  });
});

describe('createDefaultLogger', () => {
  it('writes pino JSON lines with bindings and child bindings, and never a secret', () => {
    const { logger, lines, json } = capture({}, { appId: 'orders' });
    const child = logger.child({ component: 'checkpoint-redis', url: 'redis://:child-secret@cache:6379' });
    child.warn(
      { err: new Error('connect ECONNREFUSED postgres://app:hunter2@db/x'), headers: { authorization: 'Bearer abcdefghijklmnop' } },
      'retrying postgres://app:hunter2@db/x',
    );
    child.error(new Error('token AKIAIOSFODNN7EXAMPLE rejected'));
    expect(lines).toHaveLength(2);
    const [warn, error] = json();
    expect(warn).toMatchObject({ level: 40, appId: 'orders', component: 'checkpoint-redis', headers: { authorization: REDACTED } });
    expect(warn!.msg).toBe(`retrying postgres://app:${REDACTED}@db/x`);
    expect((warn!.err as { message: string }).message).toBe(`connect ECONNREFUSED postgres://app:${REDACTED}@db/x`);
    expect(error).toMatchObject({ level: 50, msg: `token ${REDACTED} rejected`, err: { type: 'Error' } });
    expect(lines.join('')).not.toMatch(/hunter2|child-secret|abcdefghijklmnop|AKIAIOSFODNN7EXAMPLE/);
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('writes warnings and errors by default, and the level option (or MICROBATCH_LOG_LEVEL) lowers it', () => {
    vi.stubEnv('MICROBATCH_LOG_LEVEL', '');
    const quiet = capture();
    quiet.logger.debug('d');
    quiet.logger.info('i');
    quiet.logger.warn('w');
    expect(quiet.json().map((l) => l.msg)).toEqual(['w']);
    const chatty = capture({ level: 'debug' });
    chatty.logger.debug('d');
    chatty.logger.child({ component: 'x' }).info('i');
    expect(chatty.json().map((l) => l.msg)).toEqual(['d', 'i']);
    vi.stubEnv('MICROBATCH_LOG_LEVEL', 'error');
    const fromEnv = capture();
    fromEnv.logger.warn('w');
    fromEnv.logger.error('e');
    expect(fromEnv.json().map((l) => l.msg)).toEqual(['e']);
    let thrown: unknown;
    try {
      createDefaultLogger({}, { level: 'loud' });
    } catch (error) {
      thrown = error;
    }
    expect(isMicrobatchError(thrown, 'INVALID_OPTION')).toBe(true);
  });

  it('writes readable lines when pretty, with the error under the line', () => {
    const { logger, lines } = capture({ pretty: true }, { appId: 'orders' });
    logger.child({ component: 'engine' }).warn({ err: new Error('disk full'), batchTime: 1000, attempt: 2 }, 'batch attempt failed');
    expect(lines).toHaveLength(1);
    const [head, err] = lines[0]!.split('\n');
    expect(head).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[orders\/engine\] batch attempt failed batchTime=1000 attempt=2$/);
    expect(err).toBe('    err: Error disk full');
  });

  it('is JSON on a non-TTY stderr: a real pipeline process logs its retry without the password', async () => {
    const child = spawn(process.execPath, ['--import', tsx, fixture], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MICROBATCH_LOG_LEVEL: '' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const [code] = await once(child, 'exit');
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/hunter2|redis-secret/);
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    expect(lines.find((l) => l.component === 'checkpoint-redis')).toMatchObject({ level: 40, msg: 'connecting', url: `redis://:${REDACTED}@cache:6379/0` });
    const retry = lines.find((l) => l.msg === 'batch attempt failed; retrying');
    expect(retry).toMatchObject({ level: 40, appId: 'logging-child', attempt: 1, willRetry: true });
    expect(JSON.stringify(retry!.err)).toContain(`postgres://app:${REDACTED}@db.internal:5432/orders`);
  });

  it('is human-readable on a TTY stderr (a real pseudo-terminal)', () => {
    // util-linux `script` runs the child on a pty, so stderr.isTTY is true there.
    const command = `${JSON.stringify(process.execPath)} --import ${JSON.stringify(tsx)} ${JSON.stringify(fixture)}`;
    const out = execFileSync('script', ['-qefc', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, MICROBATCH_LOG_LEVEL: '', NO_COLOR: '1' } });
    const text = out.replace(/\u001b\[[0-9;]*m/g, '');
    expect(text).not.toMatch(/hunter2|redis-secret/);
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}\[checkpoint-redis\] connecting url=redis:\/\/:\[REDACTED\]@cache:6379\/0\r?$/m);
    expect(text).toMatch(/WARN {2}\[logging-child\] batch attempt failed; retrying .*attempt=1 willRetry=true/);
    expect(text).not.toContain('{"level"');
  });
});
