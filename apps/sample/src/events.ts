/** An input event, as the sample pipeline expects it. */
export interface PageEvent {
  readonly id: string;
  readonly user: string;
  readonly page: string;
  /** Cents. */
  readonly amount: number;
  /** Epoch ms. */
  readonly ts: number;
}

export type Classified =
  | { readonly kind: 'event'; readonly event: PageEvent; readonly partition: number; readonly offset: number }
  | { readonly kind: 'rejected'; readonly partition: number; readonly offset: number; readonly reason: string; readonly raw: string };

const FIELDS: ReadonlyArray<[keyof PageEvent, 'string' | 'integer']> = [
  ['id', 'string'],
  ['user', 'string'],
  ['page', 'string'],
  ['amount', 'integer'],
  ['ts', 'integer'],
];

/** Why a parsed JSON value is not a valid event, or undefined when it is one. */
export function rejectionReason(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const record = value as Record<string, unknown>;
  for (const [field, type] of FIELDS) {
    const v = record[field];
    if (v === undefined) return `missing field ${field}`;
    const ok = type === 'string' ? typeof v === 'string' : typeof v === 'number' && Number.isSafeInteger(v);
    if (!ok) return `wrong type for ${field}`;
  }
  return undefined;
}

export const INVALID_JSON = 'invalid JSON';

/** Classifies one raw input record; `parsed` is undefined when the text is not JSON. */
export function classify(partition: number, offset: number, raw: string, parsed: { value: unknown } | undefined): Classified {
  if (!parsed) return { kind: 'rejected', partition, offset, reason: INVALID_JSON, raw };
  const reason = rejectionReason(parsed.value);
  if (reason) return { kind: 'rejected', partition, offset, reason, raw };
  return { kind: 'event', event: parsed.value as PageEvent, partition, offset };
}

export function parseJson(raw: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(raw) };
  } catch {
    return undefined; // not JSON: classified as rejected with reason INVALID_JSON, never dropped
  }
}
