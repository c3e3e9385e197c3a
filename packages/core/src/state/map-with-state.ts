import type { Batch } from '../batch.js';
import type { BatchGeneration } from '../dstream/generation.js';
import { MicrobatchError, invalidOption } from '../errors.js';
import { KeyedMap } from '../hash.js';
import type { StateCodec } from './codec.js';
import { KeyedStateOperator } from './operator.js';
import type { StateTransaction } from './state-store.js';

/** The state of one key, as the mapping function of mapWithState sees it. */
export interface State<S> {
  exists(): boolean;
  /** Throws when the key has no state. */
  get(): S;
  update(state: S): void;
  remove(): void;
  /** True in the last call for a key that timed out; update() is not allowed then. */
  isTimingOut(): boolean;
}

export type MappingFunction<K, V, S, U> = (key: K, value: V | undefined, state: State<S>) => U | undefined;

/** Spark's StateSpec: `stateSpec('sessions', fn).timeout(30_000).initialState([...])`. */
export class StateSpec<K, V, S, U> {
  timeoutMs: number | undefined;
  initial: Array<readonly [K, S]> = [];
  partitions: number | undefined;
  stateCodec: StateCodec | undefined;

  constructor(
    readonly name: string,
    readonly fn: MappingFunction<K, V, S, U>,
  ) {
    if (typeof fn !== 'function') throw invalidOption('fn', 'the mapping function of a StateSpec must be a function');
  }

  /** Keys with no data for `idleMs` get one last call with isTimingOut() true, then are removed. */
  timeout(idleMs: number): this {
    if (!Number.isSafeInteger(idleMs) || idleMs <= 0) throw invalidOption('timeout', `must be a positive integer of ms, got ${idleMs}`, idleMs);
    this.timeoutMs = idleMs;
    return this;
  }

  initialState(entries: Iterable<readonly [K, S]>): this {
    this.initial = [...entries];
    return this;
  }

  numPartitions(n: number): this {
    this.partitions = n;
    return this;
  }

  codec(codec: StateCodec): this {
    this.stateCodec = codec;
    return this;
  }
}

export function stateSpec<K, V, S, U>(name: string, fn: MappingFunction<K, V, S, U>): StateSpec<K, V, S, U> {
  return new StateSpec(name, fn);
}

/**
 * Stored per key: the user's state and the batch time the key last had data. Null for a key of
 * the initial state until the operator's first batch, which starts its idle time (see change()).
 */
interface Entry<S> {
  s: S;
  t: number | null;
}

export class MapWithState<K, V, S, U> extends KeyedStateOperator<K, Entry<S>> {
  private readonly outputs = new WeakMap<BatchGeneration, Array<[K, U]>>();

  constructor(
    private readonly parent: (generation: BatchGeneration) => Batch<[K, V]> | undefined,
    private readonly spec: StateSpec<K, V, S, U>,
    intervalMs: number,
  ) {
    super({
      name: spec.name,
      ...(spec.partitions === undefined ? {} : { numPartitions: spec.partitions }),
      ...(spec.stateCodec ? { codec: spec.stateCodec } : {}),
      initialState: spec.initial.map(([k, s]): [K, Entry<S>] => [k, { s, t: null }]),
    });
    if (spec.timeoutMs !== undefined && spec.timeoutMs % intervalMs !== 0) {
      throw invalidOption('timeout', `${spec.timeoutMs} ms is not a multiple of the batch interval ${intervalMs} ms`, spec.timeoutMs);
    }
  }

  protected async change(generation: BatchGeneration, tx: StateTransaction<K, Entry<S>>): Promise<boolean> {
    const batch = this.parent(generation);
    if (!batch) return false;
    const time = generation.time;
    const out: Array<[K, U]> = [];
    const touched = new KeyedMap<K, true>();
    for (const [key, value] of await batch.collect()) {
      touched.set(key, true);
      const result = this.spec.fn(key, value, this.stateOf(tx, key, time, false));
      if (result !== undefined) out.push([key, result]);
    }
    // A key that had data is active, whether or not the function updated its state.
    for (const [key] of touched.entries()) {
      const entry = tx.get(key);
      if (entry && entry.t !== time) tx.set(key, { s: entry.s, t: time });
    }
    const timeout = this.spec.timeoutMs;
    if (timeout !== undefined) {
      // Initial-state keys count as active at the operator's first batch, so they time out like
      // any other key. That batch is in the log (no snapshot exists before it), so a replay gives
      // them the same time.
      for (const [key, entry] of [...tx.entries()]) if (entry.t === null) tx.set(key, { s: entry.s, t: time });
      const idle = [...tx.entries()].filter(([key, entry]) => !touched.has(key) && time - entry.t! >= timeout);
      for (const [key] of idle) {
        const result = this.spec.fn(key, undefined, this.stateOf(tx, key, time, true));
        if (result !== undefined) out.push([key, result]);
        tx.delete(key);
      }
    }
    this.outputs.set(generation, out);
    return true;
  }

  mapped(generation: BatchGeneration): Batch<U> | undefined {
    const out = this.outputs.get(generation);
    if (!out) return undefined;
    const input = this.parent(generation);
    return this.keyed(generation, out, input?.numPartitions ?? 1).map(([, value]) => value);
  }

  snapshots(generation: BatchGeneration): Batch<[K, S]> | undefined {
    const tx = this.stateAfter(generation);
    const input = this.parent(generation);
    return tx && this.keyed(generation, [...tx.entries()].map(([k, e]): [K, S] => [k, e.s]), input?.numPartitions ?? 1);
  }

  private stateOf(tx: StateTransaction<K, Entry<S>>, key: K, time: number, timingOut: boolean): State<S> {
    const name = this.name;
    return {
      exists: () => tx.has(key),
      get: () => {
        const entry = tx.get(key);
        if (!entry) throw new MicrobatchError('NOT_STARTED', `mapWithState "${name}": no state for this key; check exists() first`);
        return entry.s;
      },
      update: (s) => {
        if (timingOut) throw invalidOption('update', `mapWithState "${name}": a timing-out key cannot be updated`);
        tx.set(key, { s, t: time });
      },
      remove: () => tx.delete(key),
      isTimingOut: () => timingOut,
    };
  }
}
