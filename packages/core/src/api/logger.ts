import { pino, type ChildLoggerOptions, type DestinationStream, type LevelWithSilent, type Logger as PinoLogger } from 'pino';
import { invalidOption } from '../errors.js';
import { formatPrettyLine } from './pretty-log.js';
import { redactSecrets, redactString } from './redact.js';

export { REDACTED, isSecretKey, redactSecrets, redactString } from './redact.js';

/** The subset of pino's logger that microbatch uses; pass a pino logger or anything shaped like it. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export interface DefaultLoggerOptions {
  /**
   * Lowest level written: trace, debug, info, warn, error, fatal or silent.
   * Default: `MICROBATCH_LOG_LEVEL` from the environment, else `warn` (a library stays quiet).
   */
  level?: string;
  /** Human-readable lines instead of JSON. Default: whether stderr is a TTY. */
  pretty?: boolean;
  /** Where lines go. Default: process.stderr. */
  destination?: { write(line: string): unknown };
}

const LEVELS = new Set<string>(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

/**
 * The logger a StreamingContext (and drivers) use when none is injected: pino, JSON lines on
 * stderr when it is not a TTY, readable lines when it is; every line passes through
 * `redactSecrets`, so passwords in URIs, AWS keys and authorization headers are never printed.
 * `bindings` (e.g. `{ component: 'checkpoint-redis' }`) are added to every line, as with `child`.
 */
export function createDefaultLogger(bindings: Record<string, unknown> = {}, options: DefaultLoggerOptions = {}): Logger {
  const level = options.level ?? (process.env.MICROBATCH_LOG_LEVEL || 'warn');
  if (!LEVELS.has(level)) {
    throw invalidOption('level', `must be one of ${[...LEVELS].join(', ')} (from MICROBATCH_LOG_LEVEL or the option)`, level);
  }
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  const colors = pretty && options.destination === undefined && process.stderr.hasColors?.() === true;
  // Resolved per line, so tests and hosts that replace process.stderr.write are honoured.
  const target = () => options.destination ?? process.stderr;
  const destination: DestinationStream = {
    write: pretty ? (line) => void target().write(formatPrettyLine(line, { colors })) : (line) => void target().write(line),
  };
  const root = pino(
    {
      level: level as LevelWithSilent,
      hooks: { logMethod: redactingLogMethod },
      // Errors anywhere in a line are serialized (and redacted) by the hook; this covers `err`
      // values that reach pino some other way.
      serializers: { err: (err: unknown) => (err instanceof Error ? redactSecrets(err) : err) },
    },
    destination,
  );
  const logger = redactingChildren(root, root.child);
  return Object.keys(bindings).length > 0 ? logger.child(bindings) : logger;
}

/**
 * pino formats child bindings without formatters or hooks, so `child` redacts them first. A
 * child inherits from its parent, so each one gets its own `child` calling pino's original.
 */
function redactingChildren(logger: PinoLogger<never>, pinoChild: Function): PinoLogger<never> {
  return Object.assign(logger, {
    child: (bindings: Record<string, unknown>, options?: ChildLoggerOptions) =>
      redactingChildren(Reflect.apply(pinoChild, logger, [redactSecrets(bindings), options]) as PinoLogger<never>, pinoChild),
  });
}

/** pino's logMethod hook: redacts the merging object, the message and interpolation arguments. */
function redactingLogMethod(this: unknown, args: unknown[], method: (...args: unknown[]) => void): void {
  const [first, ...rest] = args;
  if (first instanceof Error) {
    // pino puts an Error argument under `err` and uses its message when no message is given.
    const message = typeof rest[0] === 'string' ? rest.shift() : first.message;
    method.apply(this, [{ err: redactSecrets(first) }, redactString(String(message)), ...rest.map(redactSecrets)]);
    return;
  }
  method.apply(this, [redactSecrets(first), ...rest.map(redactSecrets)]);
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
