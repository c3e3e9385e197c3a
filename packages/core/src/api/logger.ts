/** The subset of pino's logger that microbatch uses; pass a pino logger or anything shaped like it. */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** Default logger: silent for debug/info, warnings and errors as JSON lines on stderr. */
export function createDefaultLogger(bindings: Record<string, unknown> = {}): Logger {
  const emit = (level: string) => (obj: object | string, msg?: string) => {
    const fields = typeof obj === 'string' ? { msg: obj } : { ...obj, msg };
    process.stderr.write(`${JSON.stringify({ level, time: Date.now(), ...bindings, ...fields }, errorReplacer)}\n`);
  };
  const ignore = () => {};
  return {
    debug: ignore,
    info: ignore,
    warn: emit('warn'),
    error: emit('error'),
    child: (more) => createDefaultLogger({ ...bindings, ...more }),
  };
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  return value;
}
