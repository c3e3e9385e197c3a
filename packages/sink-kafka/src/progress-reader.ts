import { setTimeout as sleep } from 'node:timers/promises';
import { type Logger, MicrobatchError, silentLogger } from '@microbatch/core';
import { createKafkaSource, partitionId, type KafkaSource } from '@microbatch/source-kafka';
import { OutputProgress, parseProgress, progressPartition } from './progress.js';

export interface ProgressReaderOptions {
  readonly brokers: string[];
  readonly topic: string;
  readonly partitions: () => Promise<number>;
  readonly clientId: string;
  readonly kafkaConfig: object | undefined;
  readonly readTimeoutMs: number;
}

interface Tracked {
  readonly progress: OutputProgress;
  readonly partition: string;
  /** Next offset of the progress partition to read. */
  position: number | undefined;
}

/**
 * Reads the progress topic `read_committed`, through @microbatch/source-kafka's reader (exactly
 * the reads a read_committed consumer of the output gets: aborted transactions are never
 * returned, and reads stop at the last stable offset). One tracked state per (app, output),
 * advanced incrementally.
 */
export class ProgressReader {
  private source: KafkaSource<unknown> | undefined;
  private readonly tracked = new Map<string, Promise<Tracked>>();
  private closed = false;

  constructor(
    private readonly options: ProgressReaderOptions,
    private readonly logger: () => Logger,
  ) {}

  private reader(): KafkaSource<unknown> {
    if (this.closed) throw new MicrobatchError('STOPPED', 'the progress reader is closed');
    this.source ??= createKafkaSource({
      name: 'progress',
      brokers: this.options.brokers,
      topics: [this.options.topic],
      isolationLevel: 'read_committed',
      startingOffsets: 'earliest',
      deserializer: 'bytes',
      readTimeoutMs: this.options.readTimeoutMs,
      clientId: this.options.clientId,
      ...(this.options.kafkaConfig ? { kafka: this.options.kafkaConfig } : {}),
    }) as unknown as KafkaSource<unknown>;
    return this.source;
  }

  private async track(appId: string, output: string): Promise<Tracked> {
    const id = `${appId}\u0000${output}`;
    let tracked = this.tracked.get(id);
    if (!tracked) {
      tracked = (async () => {
        const source = this.reader();
        await source.open?.({ appId, logger: this.logger() });
        const partition = partitionId(this.options.topic, progressPartition(appId, output, await this.options.partitions()));
        return { progress: new OutputProgress(), partition, position: undefined };
      })();
      this.tracked.set(id, tracked);
      tracked.catch(() => this.tracked.delete(id));
    }
    return tracked;
  }

  /** The progress partition id (`topic:N`) of an output. */
  async partitionOf(appId: string, output: string): Promise<string> {
    return (await this.track(appId, output)).partition;
  }

  /** The last stable offset of a progress partition: everything below it is committed or aborted. */
  async stableOffset(partition: string): Promise<number> {
    const offsets = await this.reader().latestOffsets();
    const offset = offsets[partition];
    if (offset === undefined) throw new MicrobatchError('SINK_FAILED', `progress partition ${partition} does not exist`, { details: { partition } });
    return offset;
  }

  /** The output's progress as read so far (and as this process committed since). */
  async current(appId: string, output: string): Promise<OutputProgress> {
    return (await this.track(appId, output)).progress;
  }

  /** Reads the output's progress records committed since the last refresh and applies them. */
  async refresh(appId: string, output: string): Promise<OutputProgress> {
    const tracked = await this.track(appId, output);
    const source = this.reader();
    const from = tracked.position ?? (await source.startOffsets([tracked.partition], 'initial'))[tracked.partition]!;
    const until = await this.stableOffset(tracked.partition);
    if (until > from) {
      const records = (await source.read(
        { source: 'progress', partition: tracked.partition, from, until },
        { appId, batchTime: 0, attempt: 1, signal: new AbortController().signal, logger: silentLogger },
      )) as Array<{ kind: string; key: Buffer | null; value: Buffer | null }>;
      for (const record of records) {
        if (record.kind !== 'record') continue;
        const parsed = parseProgress(record.key, record.value);
        if (parsed && parsed.appId === appId && parsed.output === output) tracked.progress.apply(parsed);
      }
    }
    tracked.position = Math.max(from, until);
    return tracked.progress;
  }

  /** Waits until `offset` of a progress partition is below its last stable offset, i.e. readable by read_committed consumers. */
  async waitReadable(partition: string, offset: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 2;
    while ((await this.stableOffset(partition)) <= offset) {
      if (Date.now() > deadline) {
        throw new MicrobatchError('SINK_FAILED', `progress record ${partition}@${offset} is committed but not readable by read_committed consumers after ${timeoutMs} ms (an older open transaction holds the partition's last stable offset)`, {
          details: { partition, offset, reason: 'not-readable' },
        });
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.source?.close?.();
  }
}
