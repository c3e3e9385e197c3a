import type { Logger } from '@microbatch/core';
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import type { ResolvedKafkaSinkOptions } from './options.js';

// kafkajs logs a line per connection attempt, several a second while a broker is down; the
// failure itself surfaces as SINK_FAILED naming the broker. Those lines stay at debug level.
const CONNECT_NOISE = /^(Connection error|Failed to connect to seed broker)/;

/** kafkajs logs through the sink's logger; its errors become typed errors of the sink, so they are warnings. */
function logCreator(logger: () => Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { kafkajs: namespace, ...extra };
      if (level <= logLevel.WARN && !CONNECT_NOISE.test(message)) logger().warn(fields, message);
      else logger().debug(fields, message);
    };
}

/** The sink's own kafkajs client, built from `brokers` (lazily, on first use). */
export function createKafkaClient(options: ResolvedKafkaSinkOptions<unknown>, kafkaConfig: object | undefined, logger: () => Logger): Kafka {
  return new Kafka({
    ...kafkaConfig,
    retry: options.retry,
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: logCreator(logger),
  });
}
