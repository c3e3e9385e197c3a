/**
 * JSON with sorted object keys, and bigints, Dates, Maps, Sets and bytes spelled out, so equal
 * values encode equally: how the verifier compares a batch's outputs computed twice, and rows of
 * two runs' snapshots.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(normalize(value)) ?? 'undefined';
}

function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return '(undefined)';
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  if (value instanceof Uint8Array) return `bytes(${Buffer.from(value).toString('hex')})`;
  if (value instanceof Map) return { Map: [...value].map(([k, v]) => [normalize(k), normalize(v)]) };
  // A Set's order of insertion is not part of its value.
  if (value instanceof Set) return { Set: [...value].map((v) => canonicalJson(v)).sort() };
  if (Array.isArray(value)) return value.map(normalize);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = normalize((value as Record<string, unknown>)[key]);
  return out;
}
