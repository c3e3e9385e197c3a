import type { Logger } from '@microbatch/core';

// kafkajs error names (and Node socket codes) that mean "no broker answered", as opposed to a
// broker that answered with an error.
const UNREACHABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE']);

/** True when `error` or one of its causes says no broker could be reached. */
export function isUnreachable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (UNREACHABLE_NAMES.has(e.name) || (typeof code === 'string' && UNREACHABLE_CODES.has(code))) return true;
  }
  return false;
}

/**
 * Says once, in plain words, that the brokers went away and that the failure is retried, and once
 * that they are back: during an outage every planning attempt fails, and the engine's own retry
 * log lines only carry the wrapped error.
 */
export class OutageLog {
  private since: number | undefined;

  constructor(
    private readonly logger: () => Logger,
    private readonly brokers: readonly string[],
  ) {}

  failed(what: string, error: unknown): void {
    if (this.since !== undefined || !isUnreachable(error)) return;
    this.since = Date.now();
    this.logger().warn(
      { brokers: this.brokers, err: error },
      `Kafka brokers unreachable (could not ${what}); failing with SOURCE_FAILED, which the engine retries with backoff until they are back or its retry budget is spent`,
    );
  }

  succeeded(): void {
    if (this.since === undefined) return;
    this.logger().warn({ brokers: this.brokers, unreachableMs: Date.now() - this.since }, 'Kafka brokers reachable again');
    this.since = undefined;
  }
}
