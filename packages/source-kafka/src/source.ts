import {
  MicrobatchError,
  createDefaultLogger,
  type Logger,
  type OffsetRange,
  type PartitionOffsets,
  type ReadContext,
  type Source,
  type SourceOpenContext,
} from '@microbatch/core';
import { deserializerFunction, type KafkaDeadLetter, type KafkaRecord, type ValueOf } from './deserialize.js';
import { FetchedRecord } from './fetched-record.js';
import { KafkajsReader } from './kafkajs/consumer-reader.js';
import { KafkajsFetchReader } from './kafkajs/fetch-reader.js';
import { resolveOptions, type KafkaSourceOptions, type ResolvedOptions } from './options.js';
import { OutageLog, isUnreachable } from './outage.js';
import { parsePartitionId, partitionId } from './partition-id.js';
import { OffsetOutOfRangeError, type KafkaReader, type PartitionWatermarks, type RawKafkaRecord } from './reader.js';

/** Counters of what the source read, skipped and dead-lettered since it was created. */
export interface KafkaSourceMetrics {
  /** Records returned by read() (dead letters included). */
  recordsRead: number;
  /** Records dropped by `onDeserializationError: "skip"` (each one logged). */
  recordsSkipped: number;
  /** Records handed on as dead letters. */
  deadLetters: number;
  /** Offsets passed over by `onOffsetOutOfRange: "skip"` because retention had deleted them. */
  offsetsSkipped: number;
  /** Failed monitoring commits to `commitGroupId` (each one logged; they never fail a batch). */
  commitFailures: number;
  /**
   * Ranges that started where the reader's consumer already was (the partition's previous range
   * ended there): read with no seek and no log start check, from what was prefetched.
   */
  rangesContinued: number;
}

/** The element type of a source made with options `O`. */
export type KafkaSourceElement<O extends KafkaSourceOptions> = O['onDeserializationError'] extends 'deadLetter'
  ? KafkaRecord<ValueOf<O['deserializer']>> | KafkaDeadLetter
  : KafkaRecord<ValueOf<O['deserializer']>>;

export interface KafkaSource<T> extends Source<T> {
  readonly metrics: Readonly<KafkaSourceMetrics>;
  open(context: SourceOpenContext): Promise<void>;
  commit(ranges: readonly OffsetRange[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * The Kafka direct source: each batch reads exactly its planned, logged `[from, until)` of every
 * topic partition; the checkpoint, not the consumer group, holds the offsets.
 */
export function createKafkaSource<const O extends KafkaSourceOptions>(options: O): KafkaSource<KafkaSourceElement<O>> {
  const resolved = resolveOptions(options);
  const deserialize = deserializerFunction(options.deserializer);
  return new KafkaDirectSource(resolved, deserialize, options.createReader) as unknown as KafkaSource<KafkaSourceElement<O>>;
}

type Element = KafkaRecord<unknown> | KafkaDeadLetter;

class KafkaDirectSource implements KafkaSource<Element> {
  readonly name: string;
  readonly maxRecordsPerPartition: number | undefined;
  readonly metrics: KafkaSourceMetrics = { recordsRead: 0, recordsSkipped: 0, deadLetters: 0, offsetsSkipped: 0, commitFailures: 0, rangesContinued: 0 };
  private logger: Logger = createDefaultLogger({ source: 'kafka' });
  private client: KafkaReader | undefined;
  private closed = false;
  private readonly outage: OutageLog;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly deserialize: (value: Buffer | null, record: RawKafkaRecord) => unknown,
    private readonly createReader: KafkaSourceOptions['createReader'],
  ) {
    this.name = options.name;
    this.maxRecordsPerPartition = options.maxRecordsPerPartition;
    this.outage = new OutageLog(() => this.logger, options.brokers);
  }

  async open(context: SourceOpenContext): Promise<void> {
    this.logger = context.logger.child({ source: this.name });
    this.reportRejected = context.reportRejected;
    const owns = context.ownsPartition;
    this.owns = owns ? (topic, partition) => owns(partitionId(topic, partition)) : undefined;
    this.warmUp();
  }

  /**
   * Connects while the engine finishes starting (restoring state, waiting for the first batch
   * time), without delaying it: lists the partitions once, which also builds the reader's
   * consumer when they hold records (see KafkajsReader.watermarks), so the first batch's plan and
   * reads cost what later ones do. A failure here is logged and left to the first plan, which
   * lists again and reports it.
   */
  private warmUp(): void {
    this.partitions().catch((error: unknown) => {
      if (!this.closed) this.logger.debug({ err: error }, 'connecting to Kafka ahead of the first batch failed; the first plan connects again');
    });
  }

  /** The partitions the context reads (one task's in a group); undefined: all. */
  private owns: ((topic: string, partition: number) => boolean) | undefined;

  /** Counts what an explicit policy skipped or dead-lettered into the context's metrics too. */
  private reportRejected: SourceOpenContext['reportRejected'];

  /** The client is created on first use, so a source can be built before the broker is up. */
  private reader(): KafkaReader {
    if (this.closed) throw new MicrobatchError('STOPPED', `Kafka source "${this.name}" is closed`);
    const scope = this.owns ? { ownsPartition: this.owns } : {};
    this.client ??= this.createReader
      ? this.createReader(this.options, this.logger, scope)
      : this.options.reader === 'consumer'
        ? new KafkajsReader(this.options, this.logger, this.owns)
        : new KafkajsFetchReader(this.options, this.logger, this.owns);
    return this.client;
  }

  /** Current partitions of the subscription with their watermarks (only the task's in a group). */
  private async partitions(): Promise<PartitionWatermarks[]> {
    const marks = await this.subscribedPartitions();
    const owns = this.owns;
    return owns ? marks.filter((m) => owns(m.topic, m.partition)) : marks;
  }

  private async subscribedPartitions(): Promise<PartitionWatermarks[]> {
    return this.sourceCall('list the partitions', async () => {
      const reader = this.reader();
      const sub = this.options.subscription;
      if (sub.kind === 'assign') {
        const wanted = sub.partitions.map(parsePartitionId);
        const marks = await reader.watermarks([...new Set(wanted.map((p) => p.topic))]);
        const missing = wanted.filter((w) => !marks.some((m) => m.topic === w.topic && m.partition === w.partition));
        if (missing.length > 0) {
          this.logger.warn({ partitions: missing.map((m) => partitionId(m.topic, m.partition)) }, 'assigned partitions do not exist (yet)');
        }
        return marks.filter((m) => wanted.some((w) => w.topic === m.topic && w.partition === m.partition));
      }
      const topics = sub.kind === 'topics' ? sub.topics : (await reader.listTopics()).filter((t) => sub.pattern.test(t));
      const marks = await reader.watermarks(topics);
      if (sub.kind === 'topics') {
        const missing = topics.filter((t) => !marks.some((m) => m.topic === t));
        if (missing.length > 0) this.logger.warn({ topics: missing }, 'subscribed topics do not exist (yet)');
      }
      return marks;
    });
  }

  async latestOffsets(): Promise<PartitionOffsets> {
    const offsets: PartitionOffsets = {};
    for (const m of await this.partitions()) offsets[partitionId(m.topic, m.partition)] = m.high;
    return offsets;
  }

  async startOffsets(partitions: readonly string[], reason: 'initial' | 'discovered'): Promise<PartitionOffsets> {
    if (partitions.length === 0) return {};
    const marks = new Map((await this.partitions()).map((m) => [partitionId(m.topic, m.partition), m]));
    const offsets: PartitionOffsets = {};
    const starting = this.options.startingOffsets;
    for (const id of partitions) {
      const mark = marks.get(id);
      if (!mark) throw new MicrobatchError('SOURCE_FAILED', `Kafka partition ${id} is not part of the subscription`, { details: { partition: id } });
      // Partitions that appear while running start at their beginning, so nothing written to them is missed.
      const choice = reason === 'discovered' ? 'earliest' : typeof starting === 'string' ? starting : (starting[id] ?? 'latest');
      offsets[id] = choice === 'earliest' ? mark.low : choice === 'latest' ? mark.high : Math.min(Math.max(choice, mark.low), mark.high);
      if (typeof choice === 'number' && offsets[id] !== choice) {
        this.logger.warn({ partition: id, requested: choice, low: mark.low, high: mark.high, start: offsets[id] }, 'starting offset clamped to the log');
      }
    }
    return offsets;
  }

  async read(range: OffsetRange, context: ReadContext): Promise<Element[]> {
    if (range.until <= range.from) return [];
    const { topic, partition } = parsePartitionId(range.partition);
    const reader = this.reader();
    const deadline = Date.now() + this.options.readTimeoutMs;
    let from = range.from;
    let raw: RawKafkaRecord[];
    for (;;) {
      try {
        raw = await reader.read({ topic, partition, from, until: range.until, deadline, signal: context.signal });
        this.metrics.rangesContinued = reader.continuedReads ?? 0;
        this.outage.succeeded();
        break;
      } catch (error) {
        this.metrics.rangesContinued = reader.continuedReads ?? 0;
        this.outage.failed(`read ${range.partition}`, error);
        if (!(error instanceof OffsetOutOfRangeError)) {
          if (error instanceof MicrobatchError) throw error;
          throw new MicrobatchError('SOURCE_FAILED', `reading Kafka ${range.partition} [${range.from}, ${range.until}) failed: ${String(error)}`, {
            cause: error,
            details: { topic, partition, from: range.from, until: range.until },
          });
        }
        if (this.options.onOffsetOutOfRange !== 'skip') {
          throw new MicrobatchError(
            'OFFSET_OUT_OF_RANGE',
            `Kafka ${range.partition}: offsets [${range.from}, ${range.until}) are no longer available; the log starts at ${error.low} (retention or deleteRecords removed them)`,
            { cause: error, details: { topic, partition, from: range.from, until: range.until, logStartOffset: error.low, batchTime: context.batchTime } },
          );
        }
        const resume = Math.min(error.low, range.until);
        this.metrics.offsetsSkipped += resume - from;
        this.reportRejected?.({ source: this.name, reason: 'offset-out-of-range', action: 'skipped', count: resume - from, partition: range.partition });
        context.logger.warn(
          { topic, partition, from, until: range.until, logStartOffset: error.low, skippedOffsets: resume - from },
          'onOffsetOutOfRange=skip: offsets deleted by retention are skipped',
        );
        if (resume >= range.until) return [];
        from = resume;
      }
    }
    return this.deserializeAll(raw, context);
  }

  /**
   * Deserializes a range's records in offset order. A deserializer that returns a promise switches
   * the rest of the range to `deserializerConcurrency` calls at once; the records keep their order
   * and the error policies apply as for a synchronous one. The kafkajs reader's records get their
   * value in place and become the elements themselves (see FetchedRecord); other readers' records
   * are copied.
   */
  private async deserializeAll(raw: readonly RawKafkaRecord[], context: ReadContext): Promise<Element[]> {
    const values = new DeserializedValues(raw);
    const failures = new Map<number, unknown>();
    for (let i = 0; i < raw.length; i++) {
      const record = raw[i]!;
      let value: unknown;
      try {
        value = this.deserialize(record.value, record);
      } catch (error) {
        failures.set(i, error);
        if (this.options.onDeserializationError === 'fail') break;
        continue;
      }
      if (isPromiseLike(value)) {
        await this.deserializeConcurrently(raw, i, value, values, failures);
        break;
      }
      values.set(i, value);
    }
    return this.collect(raw, values, failures, context);
  }

  /** The rest of a range from `start` (whose call returned `first`), several calls at once. */
  private async deserializeConcurrently(
    raw: readonly RawKafkaRecord[],
    start: number,
    first: PromiseLike<unknown>,
    values: DeserializedValues,
    failures: Map<number, unknown>,
  ): Promise<void> {
    const failFast = this.options.onDeserializationError === 'fail';
    let next = start + 1;
    let failed = false;
    const settle = async (i: number, result: unknown) => {
      try {
        values.set(i, await result);
      } catch (error) {
        failures.set(i, error);
        if (failFast) failed = true;
      }
    };
    const worker = async (initial?: number, result?: unknown) => {
      if (initial !== undefined) await settle(initial, result);
      while (!failed && next < raw.length) {
        const i = next++;
        const record = raw[i]!;
        let call: unknown;
        try {
          call = this.deserialize(record.value, record);
        } catch (error) {
          failures.set(i, error);
          if (failFast) failed = true;
          continue;
        }
        await settle(i, call);
      }
    };
    const workers = [worker(start, first)];
    for (let w = 1; w < this.options.deserializerConcurrency; w++) workers.push(worker());
    await Promise.all(workers);
  }

  /** The range's elements from the deserialized values, with the error policy applied in offset order. */
  private collect(raw: readonly RawKafkaRecord[], values: DeserializedValues, failures: ReadonlyMap<number, unknown>, context: ReadContext): Element[] {
    if (failures.size > 0 && this.options.onDeserializationError === 'fail') {
      const index = Math.min(...failures.keys());
      const record = raw[index]!;
      const error = failures.get(index);
      throw new MicrobatchError(
        'DESERIALIZATION_FAILED',
        `Kafka record ${record.topic}:${record.partition}@${record.offset} failed to deserialize: ${messageOf(error)}`,
        { cause: error, details: { topic: record.topic, partition: record.partition, offset: record.offset } },
      );
    }
    this.metrics.recordsRead += raw.length - (this.options.onDeserializationError === 'skip' ? failures.size : 0);
    // The common case: every record deserialized in place, so the reader's array is the result.
    if (failures.size === 0 && values.inPlace) return raw as unknown as Element[];
    const out: Element[] = [];
    // Records rejected under skip/deadLetter are counted and told once per read (one warning, a
    // few samples at debug), not a line each: malformed input is routine in a stream.
    const rejected: Array<{ topic: string; partition: number; offset: string; error: string }> = [];
    for (let i = 0; i < raw.length; i++) {
      const record = raw[i]!;
      if (failures.has(i)) {
        const message = messageOf(failures.get(i));
        rejected.push({ topic: record.topic, partition: record.partition, offset: String(record.offset), error: message });
        if (this.options.onDeserializationError === 'deadLetter') out.push({ kind: 'deadLetter', ...copy(record), value: record.value, error: message });
        continue;
      }
      out.push(values.inPlace ? (record as unknown as Element) : { kind: 'record', ...copy(record), value: values.get(i) });
    }
    if (rejected.length > 0) this.reportDeserializationFailures(rejected, context);
    return out;
  }

  private reportDeserializationFailures(rejected: ReadonlyArray<{ topic: string; partition: number; offset: string; error: string }>, context: ReadContext): void {
    const skip = this.options.onDeserializationError === 'skip';
    const action = skip ? 'skipped' : 'dead-lettered';
    if (skip) this.metrics.recordsSkipped += rejected.length;
    else this.metrics.deadLetters += rejected.length;
    const { topic, partition } = rejected[0]!;
    this.reportRejected?.({ source: this.name, reason: 'deserialization', action, count: rejected.length, partition: `${topic}:${partition}` });
    context.logger.warn(
      { topic, partition, count: rejected.length, first: rejected[0]!.offset, last: rejected.at(-1)!.offset, batchTime: context.batchTime },
      `onDeserializationError=${skip ? 'skip' : 'deadLetter'}: ${rejected.length} record(s) of this range failed to deserialize and were ${action}`,
    );
    context.logger.debug({ samples: rejected.slice(0, 3) }, 'records that failed to deserialize (first 3 of the range)');
  }

  async commit(ranges: readonly OffsetRange[]): Promise<void> {
    const groupId = this.options.commitGroupId;
    if (!groupId || this.closed) return;
    const offsets = ranges.filter((r) => r.source === this.name).map((r) => ({ ...parsePartitionId(r.partition), offset: r.until }));
    if (offsets.length === 0) return;
    try {
      await this.reader().commitGroupOffsets(groupId, offsets);
    } catch (error) {
      // Monitoring only: the checkpoint holds the offsets, so a failed commit must not fail the batch.
      this.metrics.commitFailures++;
      this.logger.warn({ groupId, err: error }, 'committing offsets to the monitoring consumer group failed');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }

  private async sourceCall<R>(what: string, fn: () => Promise<R>): Promise<R> {
    try {
      const result = await fn();
      this.outage.succeeded();
      return result;
    } catch (error) {
      this.outage.failed(what, error);
      if (error instanceof MicrobatchError) throw error;
      // SOURCE_FAILED is transient to the engine: it retries the call with backoff.
      const reason = isUnreachable(error) ? `the brokers (${this.options.brokers.join(',')}) are unreachable: ${String(error)}` : String(error);
      throw new MicrobatchError('SOURCE_FAILED', `Kafka source "${this.name}" could not ${what}: ${reason}`, {
        cause: error,
        details: { brokers: this.options.brokers, unreachable: isUnreachable(error) },
      });
    }
  }
}

/**
 * Where a range's deserialized values go: into the kafkajs reader's records themselves (a failed
 * record keeps its raw value, for its dead letter), or, for another reader's records, an array.
 */
class DeserializedValues {
  readonly inPlace: boolean;
  private readonly values: unknown[] | undefined;

  constructor(private readonly raw: readonly RawKafkaRecord[]) {
    this.inPlace = raw.every((r) => r instanceof FetchedRecord);
    this.values = this.inPlace ? undefined : new Array<unknown>(raw.length);
  }

  set(index: number, value: unknown): void {
    if (this.values) this.values[index] = value;
    else (this.raw[index] as { value: unknown }).value = value;
  }

  get(index: number): unknown {
    return this.values ? this.values[index] : this.raw[index]!.value;
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function copy(record: RawKafkaRecord) {
  return {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key,
    headers: record.headers,
  };
}
