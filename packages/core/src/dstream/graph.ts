import type { OutputContext, Sink } from '../api/sink.js';
import type { Source } from '../api/source.js';
import type { Batch } from '../batch.js';
import { MicrobatchError, invalidOption } from '../errors.js';
import type { StatefulOperator } from '../state/operator.js';
import type { DStream } from './dstream.js';

/** One output operation: run per batch, in registration order. */
export interface OutputOperation {
  readonly id: number;
  readonly name: string;
  readonly stream: DStream<unknown>;
  readonly sink?: Sink<unknown>;
  run(batch: Batch<unknown>, context: OutputContext): Promise<void>;
}

/** Named participants whose data lives in the checkpoint: sources and (later) stateful operators. */
export interface NamedStream {
  readonly name: string;
  readonly kind: 'source' | 'operator';
}

/** The program's streams and outputs. Built by user code before start; frozen at start. */
export class StreamGraph {
  readonly sources = new Map<string, Source<unknown>>();
  readonly operators = new Set<string>();
  readonly outputs: OutputOperation[] = [];
  /** Stateful operators in creation order, which is an order where parents come first. */
  readonly stateful: StatefulOperator[] = [];
  /** How far back windows read past batches. */
  rememberMs = 0;
  /**
   * Operations that bring records together by key or spread them anew (reduceByKey, join,
   * repartition, keyed state...): in a group of processes they see one task's records only.
   */
  readonly shuffles = new Set<string>();
  private frozen = false;

  constructor(readonly batchIntervalMs: number) {}

  addSource(source: Source<unknown>): void {
    this.assertOpen();
    const name = (source as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string' || name === '') throw invalidOption('source', 'every source needs a non-empty stable name', source);
    for (const method of ['latestOffsets', 'startOffsets', 'read'] as const) {
      if (typeof source[method] !== 'function') throw invalidOption('source', `source "${name}" has no ${method}() method`, name);
    }
    this.claimName(name);
    this.sources.set(name, source);
  }

  /** Stateful and windowed operators claim a stable name in the same namespace as sources. */
  addOperator(name: string): void {
    this.assertOpen();
    if (typeof name !== 'string' || name === '') throw invalidOption('name', 'stateful operators need a non-empty stable name', name);
    this.claimName(name);
    this.operators.add(name);
  }

  addStateful(operator: StatefulOperator): void {
    this.addOperator(operator.name);
    this.stateful.push(operator);
    this.noteShuffle(`keyed state "${operator.name}"`);
  }

  noteShuffle(operation: string): void {
    this.shuffles.add(operation);
  }

  remember(ms: number): void {
    this.rememberMs = Math.max(this.rememberMs, ms);
  }

  addOutput(operation: Omit<OutputOperation, 'id'>): void {
    this.assertOpen();
    if (this.outputs.some((o) => o.name === operation.name)) {
      throw invalidOption('name', `two output operations are named "${operation.name}"; output names must be unique`, operation.name);
    }
    this.outputs.push({ ...operation, id: this.outputs.length });
    operation.stream.addConsumer();
  }

  namedStreams(): NamedStream[] {
    return [
      ...[...this.sources.keys()].map((name) => ({ name, kind: 'source' as const })),
      ...[...this.operators].map((name) => ({ name, kind: 'operator' as const })),
    ];
  }

  freeze(): void {
    if (this.sources.size === 0) throw invalidOption('sources', 'the graph has no source; add one with context.source()');
    if (this.outputs.length === 0) {
      throw invalidOption('outputs', 'the graph has no output operation (foreachBatch, to, print), so nothing would run');
    }
    this.frozen = true;
  }

  private claimName(name: string): void {
    if (this.sources.has(name) || this.operators.has(name)) {
      throw invalidOption('name', `the stream name "${name}" is used twice; sources and stateful operators need unique names`, name);
    }
  }

  private assertOpen(): void {
    if (this.frozen) throw new MicrobatchError('ALREADY_STARTED', 'streams and outputs must be added before the context starts');
  }
}
