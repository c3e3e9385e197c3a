import type { Source } from '../api/source.js';
import { Batch } from '../batch.js';
import { MicrobatchError, isMicrobatchError } from '../errors.js';
import { DStream } from './dstream.js';
import type { BatchGeneration } from './generation.js';
import type { StreamGraph } from './graph.js';

/** A source's stream: one partition per planned range, read lazily and exactly. */
export class InputDStream<T> extends DStream<T> {
  readonly parents = [];

  constructor(
    graph: StreamGraph,
    readonly source: Source<T>,
  ) {
    super(graph);
    graph.addSource(source as Source<unknown>);
  }

  protected compute(generation: BatchGeneration): Batch<T> {
    const { name } = this.source;
    const ranges = generation.ranges.filter((range) => range.source === name);
    const context = {
      appId: generation.appId,
      batchTime: generation.time,
      attempt: generation.attempt,
      signal: generation.signal,
      logger: generation.logger,
    };
    return new Batch(
      generation.time,
      ranges.map((range) => ({
        ranges: [range],
        compute: async () => {
          if (range.from === range.until) return [];
          let records: T[];
          try {
            // Read ahead by this same source for exactly this range (ReadAhead), or read now.
            records = ((await generation.prefetched?.(range)) as T[] | undefined) ?? (await this.source.read(range, context));
          } catch (error) {
            if (isMicrobatchError(error)) throw error;
            throw new MicrobatchError('SOURCE_FAILED', `Source "${name}" failed to read ${range.partition} [${range.from}, ${range.until})`, {
              cause: error,
              details: { range },
            });
          }
          if (!Array.isArray(records)) {
            throw new MicrobatchError('SOURCE_FAILED', `Source "${name}" read() did not return an array`, { details: { range } });
          }
          return records;
        },
      })),
      { concurrency: generation.concurrency },
    );
  }
}
