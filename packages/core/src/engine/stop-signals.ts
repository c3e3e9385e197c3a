import type { Logger } from '../api/logger.js';

/**
 * Calls `stop` on SIGINT and SIGTERM; returns the function that removes the handlers. With
 * `once`, a second signal gets Node's default (the process dies), so a second Ctrl-C still ends a
 * stop that hangs; without it, every signal asks for the same stop.
 */
export function onStopSignals(logger: Logger, message: string, stop: () => void, { once }: { once: boolean }): () => void {
  const handler = (signal: NodeJS.Signals) => {
    logger.info({ signal }, message);
    stop();
  };
  const listen = once ? process.once.bind(process) : process.on.bind(process);
  listen('SIGINT', handler);
  listen('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}
