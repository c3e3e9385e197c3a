import { invalidOption } from '@microbatch/core';
import type { Kafka } from 'kafkajs';

// kafkajs' protocol constant (src/protocol/isolationLevel.js); READ_COMMITTED is 1.
const READ_UNCOMMITTED = 0;

type CreateCluster = (options: { isolationLevel?: number } & Record<string, unknown>) => unknown;

/** The client's private cluster factory (kafkajs 2.2.x), or undefined when kafkajs changed. */
function clusterFactory(kafka: Kafka): { key: symbol; create: CreateCluster } | undefined {
  const client = kafka as unknown as Record<symbol, CreateCluster | undefined>;
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = key === undefined ? undefined : client[key];
  return key === undefined || typeof create !== 'function' ? undefined : { key, create };
}

/**
 * Makes the admin clients of `kafka` send ListOffsets as READ_UNCOMMITTED, so "latest" is the
 * high watermark rather than the last stable offset. kafkajs 2.2.4's `admin()` builds its cluster
 * without an isolation level, and ListOffsets v2+ then defaults to READ_COMMITTED: a
 * read_uncommitted source would plan only up to the start of the oldest open transaction. kafkajs
 * has no public option for it, so this wraps the client's private cluster factory: clusters built
 * without a level (admin, producer, the reader's offsets cluster) get READ_UNCOMMITTED; consumers
 * pass their own and keep it.
 */
export function listOffsetsUncommitted(kafka: Kafka): void {
  const factory = clusterFactory(kafka);
  if (!factory) {
    throw invalidOption('isolationLevel', 'read_uncommitted needs kafkajs 2.2.x (its admin client cannot list offsets uncommitted otherwise)', 'read_uncommitted');
  }
  const { key, create } = factory;
  (kafka as unknown as Record<symbol, CreateCluster>)[key] = (options) => create({ ...options, isolationLevel: options.isolationLevel ?? READ_UNCOMMITTED });
}

/**
 * A bare kafkajs Cluster of `kafka` (what its admin client wraps), for ListOffsets of many topics
 * in one request per broker: the admin API lists one topic per call, two requests each. kafkajs is
 * pinned to 2.2.4, which has the factory.
 */
export function createBareCluster(kafka: Kafka): unknown {
  const factory = clusterFactory(kafka);
  if (!factory) throw new Error('the Kafka source needs kafkajs 2.2.x (its private cluster factory is gone)');
  return factory.create({ allowAutoTopicCreation: false, instrumentationEmitter: null });
}

