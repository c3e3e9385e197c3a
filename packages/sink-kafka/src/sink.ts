import { setTimeout as sleep } from 'node:timers/promises';
import { type Batch, FencedError, type Logger, MicrobatchError, type OutputContext, type Sink, type SinkOpenContext, silentLogger } from '@microbatch/core';
import { fixKafkajs } from '@microbatch/source-kafka';
import type { Admin, Kafka, Message, RecordMetadata } from 'kafkajs';
import { createKafkaClient } from './client.js';
import { fencedError, isProducerFenced, isTooLarge, isUnknownTopic, sinkError, tooLargeError, unknownTopicError, type Where } from './errors.js';
import { type KafkaSinkOptions, type ResolvedKafkaSinkOptions, resolveOptions } from './options.js';
import { claimMessage, commitMessage, type OutputProgress, progressPartition, tombstoneMessage } from './progress.js';
import { ProgressReader } from './progress-reader.js';
import { BATCH_OVERHEAD, chunk, type OutMessage, serialize } from './serialize.js';
import { TopicInfo, ensureProgressTopic } from './topics.js';
import { TransactionalProducer } from './transactional-producer.js';

export interface KafkaSink<T> extends Sink<T> {
  readonly guarantee: 'transactional';
  readonly progressTopic: string;
  /** The transactional id of (app, this output[, partition]): stable, so the next owner fences the previous one. */
  transactionalId(appId: string, partitionId?: number): string;
  open(context: SinkOpenContext): Promise<void>;
  retire(context: { readonly appId: string; readonly epoch: number; readonly before: number }): Promise<void>;
  /** The newest batch time with a commit record of this output and app in the progress topic (read read_committed). */
  lastCommittedBatch(context: { readonly appId: string }): Promise<number | undefined>;
  close(): Promise<void>;
}

// Fencings one write survives: each means another producer initialized this transactional id (a
// transaction timeout, or an instance of the same or an older epoch). The write then takes the id
// back, unless a newer epoch claimed the output; more than this is a fight, left to the engine's retries.
const FENCE_RECOVERIES = 6;

/** What one transaction writes: the output records of the partitions not committed yet, and their commit records. */
interface TransactionPlan {
  readonly partitions: readonly number[];
  readonly messages: readonly OutMessage[];
}

interface AppState {
  /** Transactional producers by slot: "batch", or the partition number. */
  readonly producers: Map<string, TransactionalProducer>;
  /** The epoch each slot's producer claimed the output with. */
  readonly claimed: Map<string, number>;
  /** Commit-record tombstones `retire` asked for; they ride in the next transaction. */
  tombstones: Message[];
}

/**
 * Exactly-once output to Kafka topics for read_committed consumers: each batch (or each
 * partition, with `granularity: 'partition'`) is one Kafka transaction holding its output records
 * and a commit record per partition in the progress topic. A replay reads the progress topic
 * read_committed and skips what committed; the skip decision never comes from anywhere else.
 */
export function createKafkaSink<T>(options: KafkaSinkOptions<T>): KafkaSink<T> {
  const resolved: ResolvedKafkaSinkOptions<T> = resolveOptions(options);
  const { name } = resolved;
  let logger: Logger = options.logger ?? silentLogger;
  const log = () => logger;
  let client: Kafka | undefined;
  const kafka = () => {
    // source-kafka's corrections to kafkajs 2.2.4 (read_committed filtering, which the progress
    // reads rely on; no TimeoutNegativeWarning on Node 24) patch kafkajs once, so they cover an
    // injected client too. Applied here: the package has no import side effects.
    fixKafkajs();
    return (client ??= options.kafka ?? createKafkaClient(resolved as ResolvedKafkaSinkOptions<unknown>, options.kafkaConfig, log));
  };
  let adminClient: Promise<Admin> | undefined;
  const admin = () => {
    adminClient ??= (async () => {
      const a = kafka().admin();
      await a.connect();
      return a;
    })();
    adminClient.catch(() => (adminClient = undefined));
    return adminClient;
  };
  let progressTopicReady: Promise<number> | undefined;
  /** The progress topic's partition count, after creating it when missing (and allowed). */
  const progressPartitions = () => {
    progressTopicReady ??= (async () => {
      const a = await admin();
      if (resolved.createProgressTopic) {
        await ensureProgressTopic(a, resolved.progressTopic, resolved.progressPartitions, resolved.progressReplicationFactor, 30_000);
      }
      const meta = await a.fetchTopicMetadata({ topics: [resolved.progressTopic] }).catch((error: unknown) => {
        if (isUnknownTopic(error)) throw unknownTopicError({ output: name }, resolved.progressTopic, error);
        throw error;
      });
      return meta.topics[0]!.partitions.length;
    })();
    progressTopicReady.catch(() => (progressTopicReady = undefined));
    return progressTopicReady;
  };
  const reader = new ProgressReader(
    {
      brokers: resolved.brokers,
      topic: resolved.progressTopic,
      partitions: progressPartitions,
      clientId: `${resolved.clientId}-progress`,
      kafkaConfig: options.kafkaConfig,
      readTimeoutMs: resolved.visibilityTimeoutMs,
    },
    log,
  );
  const topics = new TopicInfo(admin);
  const apps = new Map<string, AppState>();
  let closed = false;

  const transactionalId = (appId: string, partitionId?: number) =>
    `${resolved.transactionalIdPrefix}${appId}.${name}${partitionId === undefined ? '' : `.p${partitionId}`}`;

  const appState = (appId: string): AppState => {
    if (closed) throw new MicrobatchError('STOPPED', `Output "${name}" is closed`);
    let state = apps.get(appId);
    if (!state) apps.set(appId, (state = { producers: new Map(), claimed: new Map(), tombstones: [] }));
    return state;
  };

  const producerOf = (appId: string, slot: string): TransactionalProducer => {
    const state = appState(appId);
    let producer = state.producers.get(slot);
    if (!producer) {
      const id = transactionalId(appId, slot === 'batch' ? undefined : Number(slot));
      producer = new TransactionalProducer(kafka, { transactionalId: id, transactionTimeoutMs: resolved.transactionTimeoutMs, retry: resolved.retry });
      state.producers.set(slot, producer);
    }
    return producer;
  };

  /** Progress records go to one partition of the progress topic per (app, output). */
  const progressTarget = async (appId: string) => progressPartition(appId, name, await progressPartitions());

  /** The offset of the last progress record a transaction wrote. */
  const lastProgressOffset = (metadata: readonly RecordMetadata[], count: number): number => {
    const meta = metadata.find((m) => m.topicName === resolved.progressTopic);
    if (!meta?.baseOffset) throw new MicrobatchError('SINK_FAILED', `Output "${name}": the broker returned no offset for the progress records`, { details: { output: name } });
    return Number(meta.baseOffset) + count - 1;
  };

  /**
   * Makes this slot's producer the owner of its transactional id for `epoch`: a newer epoch that
   * claimed the output fences us (FencedError); otherwise the first transaction of a new producer
   * (InitProducerId) fences every older producer of the id and settles its open transaction, and
   * writes a claim record. Once that claim is readable, every commit of an older producer is too
   * (they all precede it in the progress partition), so the progress read after it is complete.
   */
  async function claim(appId: string, slot: string, epoch: number, where: Where): Promise<OutputProgress> {
    const state = appState(appId);
    const producer = producerOf(appId, slot);
    const claimedBy = state.claimed.get(slot);
    if (claimedBy !== undefined && epoch < claimedBy) throw fencedError(where, appId, epoch, claimedBy);
    // While this producer owns the id nobody else can commit for it without fencing it first (and
    // the next transaction would notice): what is in memory is the whole progress.
    if (claimedBy === epoch && producer.initialized) return reader.current(appId, name);
    let progress = await reader.refresh(appId, name);
    if (progress.highestClaim > epoch) throw fencedError(where, appId, epoch, progress.highestClaim);
    const target = await progressTarget(appId);
    const metadata = await producer.run((tx) => tx.send([{ topic: resolved.progressTopic, messages: [claimMessage(appId, name, slot, epoch, target)] }]));
    await reader.waitReadable(await reader.partitionOf(appId, name), lastProgressOffset(metadata, 1), resolved.visibilityTimeoutMs);
    progress = await reader.refresh(appId, name);
    if (progress.highestClaim > epoch) throw fencedError(where, appId, epoch, progress.highestClaim);
    state.claimed.set(slot, epoch);
    return progress;
  }

  /** Checks the topics of `messages` exist and that no record exceeds its topic's max.message.bytes; returns the request limit per topic. */
  async function limits(messages: readonly OutMessage[], where: Where): Promise<Map<string, number>> {
    const maxBytes = new Map<string, number>();
    for (const m of messages) if (!maxBytes.has(m.topic)) maxBytes.set(m.topic, await topics.maxMessageBytes(m.topic, where));
    for (const m of messages) {
      const max = maxBytes.get(m.topic)!;
      if (m.bytes + BATCH_OVERHEAD > max) throw tooLargeError(where, m.topic, m.bytes, max);
    }
    return new Map([...maxBytes].map(([topic, max]) => [topic, Math.min(resolved.maxRequestBytes, max)]));
  }

  /**
   * One transaction of one slot: decides from the progress topic which of `partitions` are not
   * committed yet, sends their records, then their commit records, then commits. A slot whose
   * partitions all committed (a replay) still runs a transaction, writing their commit records
   * again: a committed replay must prove, like any write, that no newer owner took the output.
   */
  async function commit(
    context: OutputContext,
    slot: string,
    partitions: readonly number[],
    numPartitions: number,
    messagesOf: (partition: number) => readonly OutMessage[],
    where: Where,
  ): Promise<void> {
    const { appId, epoch, batchTime } = context;
    const state = appState(appId);
    const target = await progressTarget(appId);
    const attempt = async () => {
      const progress = await claim(appId, slot, epoch, where);
      const fresh = partitions.filter((p) => !progress.isCommitted(batchTime, p));
      const plan: TransactionPlan = { partitions: fresh, messages: fresh.flatMap((p) => messagesOf(p)) };
      if (fresh.length < partitions.length) {
        context.logger.debug({ output: name, batchTime, skipped: partitions.filter((p) => !fresh.includes(p)) }, 'replayed partitions already committed; skipped');
      }
      const limit = await limits(plan.messages, where);
      const recorded = plan.partitions.length > 0 ? plan.partitions : partitions;
      const countOf = (p: number) => (plan.partitions.includes(p) ? messagesOf(p).length : 0);
      const tombstones = state.tombstones;
      state.tombstones = [];
      const progressMessages = [
        ...tombstones,
        ...recorded.map((p) => commitMessage(appId, name, batchTime, p, { epoch, records: countOf(p), numPartitions }, target)),
      ];
      let metadata: RecordMetadata[];
      try {
        metadata = await producerOf(appId, slot).run(async (tx) => {
          for (const request of chunk(plan.messages, (topic) => limit.get(topic)!)) await tx.send(request);
          // Last, right before the commit: the progress partition's last stable offset, which
          // every read_committed reader of progress waits behind, is held only for this moment.
          return tx.send([{ topic: resolved.progressTopic, messages: progressMessages }]);
        });
      } catch (error) {
        state.tombstones.push(...tombstones);
        if (isTooLarge(error)) {
          const largest = plan.messages.reduce((a, b) => (b.bytes > a.bytes ? b : a));
          throw tooLargeError(where, largest.topic, largest.bytes, limit.get(largest.topic) ?? 0, error);
        }
        if (isUnknownTopic(error)) {
          for (const m of plan.messages) topics.forget(m.topic);
          throw unknownTopicError(where, plan.messages[0]?.topic ?? '?', error);
        }
        throw error;
      }
      progress.markCommitted(batchTime, recorded);
      // Returns once the commit is readable by read_committed consumers (the broker writes the
      // transaction markers after acknowledging the commit).
      await reader.waitReadable(await reader.partitionOf(appId, name), lastProgressOffset(metadata, progressMessages.length), resolved.visibilityTimeoutMs);
    };
    try {
      await takingFencedIdsBack(appId, slot, batchTime, context.logger, attempt);
    } catch (error) {
      throw sinkError(error, where);
    }
  }

  /**
   * Runs `fn` (a claim, then a transaction, of one slot) again when another producer of the same
   * transactional id fenced it: an instance of the same epoch (several processes replaying one
   * batch), or the broker aborting a transaction that outlived transactionTimeoutMs. The claim
   * itself can be fenced too: between this producer's InitProducerId and its claim's commit,
   * another instance may initialize the id. Each retry claims the id again, which fails with
   * FENCED once a newer epoch claimed the output; more fencings than FENCE_RECOVERIES is a fight,
   * left to the engine's retries (SINK_FAILED, transient).
   */
  async function takingFencedIdsBack(appId: string, slot: string, batchTime: number | undefined, log: Logger, fn: () => Promise<void>): Promise<void> {
    const state = appState(appId);
    for (let recovery = 0; ; recovery++) {
      try {
        await fn();
        return;
      } catch (error) {
        if (error instanceof MicrobatchError || !isProducerFenced(error) || recovery >= FENCE_RECOVERIES) throw error;
        state.claimed.delete(slot);
        // Jittered, growing backoff: same-epoch instances fencing each other in lockstep would
        // otherwise keep doing so; one of them soon commits, and the others then skip.
        await sleep(Math.random() * 25 * 2 ** recovery);
        log.warn(
          { output: name, ...(batchTime === undefined ? {} : { batchTime }), transactionalId: transactionalId(appId, slot === 'batch' ? undefined : Number(slot)) },
          'producer fenced by another producer of the same transactional id (or a transaction timeout); taking the id back',
        );
      }
    }
  }

  async function writeBatch(batch: Batch<T>, context: OutputContext): Promise<void> {
    const numPartitions = batch.numPartitions;
    if (numPartitions === 0) return;
    const where: Where = { output: name, batchTime: context.batchTime };
    if (resolved.granularity === 'batch') {
      // Every partition is computed and serialized before the transaction begins: a failure there
      // writes nothing, and the transaction lasts only as long as its sends.
      const parts: OutMessage[][] = new Array(numPartitions);
      await batch.foreachPartition((records, ctx) => {
        parts[ctx.partitionId] = serialize(records, resolved, { ...where, partitionId: ctx.partitionId });
      });
      const all = Array.from({ length: numPartitions }, (_, i) => i);
      await commit(context, 'batch', all, numPartitions, (p) => parts[p] ?? [], where);
      return;
    }
    // Reject only once every partition's transaction settled, so the engine's retry never races
    // this attempt's stragglers (Batch.foreachPartition rejects at the first failure).
    const errors: unknown[] = [];
    await batch.foreachPartition(async (records, ctx) => {
      const at: Where = { ...where, partitionId: ctx.partitionId };
      try {
        const messages = serialize(records, resolved, at);
        await commit(context, String(ctx.partitionId), [ctx.partitionId], numPartitions, () => messages, at);
      } catch (error) {
        errors.push(error);
      }
    });
    if (errors.length > 0) throw errors.find((e) => e instanceof FencedError) ?? errors[0];
  }

  return {
    name,
    guarantee: 'transactional',
    progressTopic: resolved.progressTopic,
    transactionalId,

    async open(context) {
      if (!options.logger) logger = context.logger;
      const where: Where = { output: name };
      try {
        appState(context.appId);
        await progressPartitions();
        if (resolved.staticTopic !== undefined) await topics.maxMessageBytes(resolved.staticTopic, where);
        // Per batch, the output's one producer takes its transactional id now, fencing the previous
        // owner at once; per partition, each producer takes its id on its first transaction.
        if (resolved.granularity === 'batch') await takingFencedIdsBack(context.appId, 'batch', undefined, context.logger, () => claim(context.appId, 'batch', context.epoch, where).then(() => undefined));
        else {
          const progress = await reader.refresh(context.appId, name);
          if (progress.highestClaim > context.epoch) throw fencedError(where, context.appId, context.epoch, progress.highestClaim);
        }
      } catch (error) {
        throw sinkError(error, where);
      }
    },

    async write(batch, context) {
      try {
        await writeBatch(batch, context);
      } catch (error) {
        throw sinkError(error, { output: name, batchTime: context.batchTime });
      }
    },

    async retire(context) {
      const where: Where = { output: name };
      try {
        const state = appState(context.appId);
        const progress = await reader.refresh(context.appId, name);
        if (progress.highestClaim > context.epoch) throw fencedError(where, context.appId, context.epoch, progress.highestClaim);
        const newest = progress.newestBatch();
        if (newest === undefined) return;
        const target = await progressTarget(context.appId);
        for (const [batchTime, parts] of [...progress.committed]) {
          // The newest batch's records always stay: lastCommittedBatch must still find it.
          if (batchTime >= context.before || batchTime >= newest) continue;
          for (const p of parts) state.tombstones.push(tombstoneMessage(context.appId, name, batchTime, p, target));
          progress.committed.delete(batchTime);
        }
      } catch (error) {
        throw sinkError(error, where);
      }
    },

    async lastCommittedBatch(context) {
      if (closed) throw new MicrobatchError('STOPPED', `Output "${name}" is closed`);
      try {
        await progressPartitions();
        return (await reader.refresh(context.appId, name)).newestBatch();
      } catch (error) {
        throw sinkError(error, { output: name });
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      const producers = [...apps.values()].flatMap((s) => [...s.producers.values()]);
      await Promise.all(producers.map((p) => p.discard()));
      await reader.close().catch(() => undefined);
      const a = await adminClient?.catch(() => undefined);
      await a?.disconnect().catch(() => undefined);
    },
  };
}

/** The same factory, named like the other sinks (`postgresSink`, `upsertSink`). */
export const kafkaSink = createKafkaSink;
