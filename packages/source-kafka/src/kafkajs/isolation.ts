import { invalidOption } from '@microbatch/core';
import type { Kafka } from 'kafkajs';

// kafkajs' protocol constant (src/protocol/isolationLevel.js); READ_COMMITTED is 1.
const READ_UNCOMMITTED = 0;

type CreateCluster = (options: { isolationLevel?: number } & Record<string, unknown>) => unknown;

/**
 * Makes the admin clients of `kafka` send ListOffsets as READ_UNCOMMITTED, so "latest" is the
 * high watermark rather than the last stable offset. kafkajs 2.2.4's `admin()` builds its cluster
 * without an isolation level, and ListOffsets v2+ then defaults to READ_COMMITTED: a
 * read_uncommitted source would plan only up to the start of the oldest open transaction. kafkajs
 * has no public option for it, so this wraps the client's private cluster factory: clusters built
 * without a level (admin, producer) get READ_UNCOMMITTED; consumers pass their own and keep it.
 */
export function listOffsetsUncommitted(kafka: Kafka): void {
  const client = kafka as unknown as Record<symbol, CreateCluster | undefined>;
  const key = Object.getOwnPropertySymbols(kafka).find((s) => s.description === 'private:Kafka:createCluster');
  const create = key === undefined ? undefined : client[key];
  if (key === undefined || typeof create !== 'function') {
    throw invalidOption('isolationLevel', 'read_uncommitted needs kafkajs 2.2.x (its admin client cannot list offsets uncommitted otherwise)', 'read_uncommitted');
  }
  client[key] = (options) => create({ ...options, isolationLevel: options.isolationLevel ?? READ_UNCOMMITTED });
}
