import type { Batch } from '../batch.js';
import { KeyedMap } from '../hash.js';
import { appendValue, firstValueList } from '../key-fold.js';

/** Pair-stream operations on one batch. Every shuffle is by a deterministic hash of the key. */

export function reduceByKey<K, V>(batch: Batch<[K, V]>, reduce: (a: V, b: V) => V, numPartitions: number): Batch<[K, V]> {
  const first = (v: V) => v;
  // Combine within each partition first, as Spark does, so the shuffle moves one record per key.
  return batch
    .foldByKeyWithin(first, reduce)
    .shuffle(numPartitions, ([key]) => key)
    .foldByKeyWithin(first, reduce);
}

export function groupByKey<K, V>(batch: Batch<[K, V]>, numPartitions: number): Batch<[K, V[]]> {
  return batch.shuffle(numPartitions, ([key]) => key).foldByKeyWithin<K, V, V[]>(firstValueList, appendValue);
}

type Tagged<K, V, W> = [K, { left: true; value: V } | { left: false; value: W }];

export function cogroup<K, V, W>(left: Batch<[K, V]>, right: Batch<[K, W]>, numPartitions: number): Batch<[K, [V[], W[]]]> {
  const tagged = left
    .map(([k, value]): Tagged<K, V, W> => [k, { left: true, value }])
    .union(right.map(([k, value]): Tagged<K, V, W> => [k, { left: false, value }]));
  return tagged.shuffle(numPartitions, ([key]) => key).mapPartitions((records) => {
    const groups = new KeyedMap<K, [V[], W[]]>();
    const order: K[] = [];
    for (const [key, tag] of records) {
      let group = groups.get(key);
      if (!group) {
        group = [[], []];
        groups.set(key, group);
        order.push(key);
      }
      if (tag.left) group[0].push(tag.value);
      else group[1].push(tag.value);
    }
    return order.map((key): [K, [V[], W[]]] => [key, groups.get(key)!]);
  });
}

export function join<K, V, W>(left: Batch<[K, V]>, right: Batch<[K, W]>, numPartitions: number): Batch<[K, [V, W]]> {
  return cogroup(left, right, numPartitions).flatMap(function* ([key, [vs, ws]]) {
    for (const v of vs) for (const w of ws) yield [key, [v, w]] as [K, [V, W]];
  });
}

export function leftOuterJoin<K, V, W>(
  left: Batch<[K, V]>,
  right: Batch<[K, W]>,
  numPartitions: number,
): Batch<[K, [V, W | undefined]]> {
  return cogroup(left, right, numPartitions).flatMap(function* ([key, [vs, ws]]) {
    const matches: (W | undefined)[] = ws.length > 0 ? ws : [undefined];
    for (const v of vs) for (const w of matches) yield [key, [v, w]] as [K, [V, W | undefined]];
  });
}
