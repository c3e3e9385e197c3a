/**
 * Turns one pino JSON line into a line for people at a terminal:
 *   12:00:01.234 WARN  [checkpoint-redis] batch attempt failed batchTime=1700000000000 attempt=2
 *       err: SINK_FAILED Output "totals" failed ...: connection refused
 * In-process and synchronous on purpose: pino-pretty as a transport runs in a worker thread,
 * which can lose the last lines when the process exits and surprises bundlers.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const COLORS: Record<string, string> = { TRACE: '90', DEBUG: '90', INFO: '36', WARN: '33', ERROR: '31', FATAL: '35' };
/** Fields shown in the line's head, or not worth showing at a terminal. */
const HIDDEN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component', 'appId', 'err']);

export function formatPrettyLine(line: string, options: { colors?: boolean } = {}): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const color = (code: string | undefined, text: string) => (options.colors && code ? `\u001b[${code}m${text}\u001b[39m` : text);
  const level = typeof entry.level === 'number' ? (LEVELS[entry.level] ?? String(entry.level)) : String(entry.level ?? '').toUpperCase();
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const scope = [entry.appId, entry.component].filter((s) => s !== undefined).join('/');
  const fields = Object.entries(entry)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const head = [time, color(COLORS[level], level.padEnd(5)), scope ? `[${scope}]` : '', String(entry.msg ?? ''), ...fields]
    .filter((part) => part !== '')
    .join(' ');
  return `${head}${formatError(entry.err)}\n`;
}

function formatError(err: unknown): string {
  if (typeof err !== 'object' || err === null) return err === undefined ? '' : `\n    err: ${String(err)}`;
  const { type, code, message, stack } = err as Record<string, unknown>;
  const title = [type, code, message].filter((s) => typeof s === 'string' && s !== '').join(' ');
  // The stack's first line repeats the message; keep only the frames.
  const frames = typeof stack === 'string' ? stack.split('\n').filter((l) => /^\s+at /.test(l) || l.startsWith('caused by')) : [];
  return `\n    err: ${title}${frames.map((f) => `\n    ${f.trim()}`).join('')}`;
}
