/** JSON with sorted object keys and bigints, Dates, Maps, Sets and bytes spelled out, so equal rows encode equally. */
export function canonical(value: unknown): string {
  return JSON.stringify(normalize(value)) ?? 'undefined';
}

function normalize(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined) return '(undefined)';
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return `Date(${value.toISOString()})`;
  if (value instanceof Uint8Array) return `bytes(${Buffer.from(value).toString('hex')})`;
  if (value instanceof Map) return { Map: [...value].map(([k, v]) => [normalize(k), normalize(v)]) };
  if (value instanceof Set) return { Set: [...value].map(normalize).sort() };
  if (Array.isArray(value)) return value.map(normalize);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = normalize((value as Record<string, unknown>)[key]);
  return out;
}
