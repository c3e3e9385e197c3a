/**
 * Deterministic hashing for partitioning: the same key lands in the same partition in every
 * process and after every restart (no per-process seed, no insertion-order dependence).
 */
export function stableKey(key: unknown): string {
  switch (typeof key) {
    case 'string':
      return `s${key}`;
    case 'number':
      return `n${Object.is(key, -0) ? 0 : key}`;
    case 'bigint':
      return `b${key}`;
    case 'boolean':
      return key ? 't' : 'f';
    case 'undefined':
      return 'u';
    default:
      return key === null ? 'z' : `j${canonicalJson(key)}`;
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  if (typeof value === 'bigint') return `"${value}n"`;
  return JSON.stringify(value) ?? 'null';
}

/** 32-bit FNV-1a over UTF-16 code units; `hash` continues a hash of preceding text. */
export function fnv1a(text: string, hash = 0x811c9dc5): number {
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The hash of stableKey's prefix for strings, so string keys are hashed without building `s${key}`. */
const STRING_PREFIX_HASH = fnv1a(stableKey(''));

export function partitionOf(key: unknown, numPartitions: number): number {
  const hash = typeof key === 'string' ? fnv1a(key, STRING_PREFIX_HASH) : fnv1a(stableKey(key));
  return hash % numPartitions;
}

/**
 * A Map that compares keys by value: primitives as themselves, objects and arrays by their
 * canonical JSON, so [a, b] tuple keys group like Spark's equals().
 */
export class KeyedMap<K, V> {
  private readonly primitives = new Map<K, V>();
  private readonly composites = new Map<string, { key: K; value: V }>();

  get(key: K): V | undefined {
    return isComposite(key) ? this.composites.get(stableKey(key))?.value : this.primitives.get(key);
  }

  has(key: K): boolean {
    return isComposite(key) ? this.composites.has(stableKey(key)) : this.primitives.has(key);
  }

  set(key: K, value: V): void {
    if (isComposite(key)) this.composites.set(stableKey(key), { key, value });
    else this.primitives.set(key, value);
  }

  delete(key: K): boolean {
    return isComposite(key) ? this.composites.delete(stableKey(key)) : this.primitives.delete(key);
  }

  get size(): number {
    return this.primitives.size + this.composites.size;
  }

  clear(): void {
    this.primitives.clear();
    this.composites.clear();
  }

  *entries(): IterableIterator<[K, V]> {
    yield* this.primitives.entries();
    for (const { key, value } of this.composites.values()) yield [key, value];
  }
}

function isComposite(key: unknown): boolean {
  return typeof key === 'object' && key !== null;
}
