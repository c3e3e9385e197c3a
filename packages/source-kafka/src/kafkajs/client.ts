import type { Logger } from '@microbatch/core';
import { Kafka, logLevel, type LogEntry, type RetryOptions } from 'kafkajs';
import type { ResolvedOptions } from '../options.js';
import { fixKafkajs } from './fixes.js';

/** The connection part of the resolved options: what every kafkajs client of this package is built from. */
export type ConnectionOptions = Pick<ResolvedOptions, 'brokers' | 'clientId' | 'kafka' | 'retryInitialMs' | 'retryMaxMs'>;

// kafkajs logs one of these per connection attempt, several a second while a broker is down. The
// source says it once, in plain words (see ../outage.ts), and the failure surfaces as SOURCE_FAILED;
// these stay available at debug level.
const CONNECT_NOISE = /^(Connection error|Failed to connect to seed broker)/;

/** kafkajs logs through our logger; its errors are retried by the caller, so they are warnings. */
function logCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, ...extra } = log;
      const fields = { kafkajs: namespace, ...extra };
      if (level <= logLevel.WARN && !CONNECT_NOISE.test(message)) logger.warn(fields, message);
      else logger.debug(fields, message);
    };
}

/** kafkajs' request retries: the `retryBackoff` option, unless `kafka.retry` replaces it. */
export function retrySettings(options: ConnectionOptions): RetryOptions {
  return options.kafka.retry ?? { retries: 5, initialRetryTime: options.retryInitialMs, maxRetryTime: options.retryMaxMs };
}

/** One kafkajs client with the package's connection options (brokers, ssl, sasl, retries) and logging. */
export function createKafkaClient(options: ConnectionOptions, logger: Logger): Kafka {
  // Every client of this package (reader, coordinator) reads read_committed correctly and avoids
  // kafkajs's TimeoutNegativeWarning.
  fixKafkajs();
  return new Kafka({
    ...options.kafka,
    retry: retrySettings(options),
    clientId: options.clientId,
    brokers: options.brokers,
    logLevel: logLevel.WARN,
    logCreator: logCreator(logger),
  });
}
