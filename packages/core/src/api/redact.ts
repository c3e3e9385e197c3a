import { stdSerializers } from 'pino';

/** What replaces a secret value. */
export const REDACTED = '[REDACTED]';

/**
 * Field names whose values are secrets whatever they hold, compared lower-cased with "-" and "_"
 * removed, so `secretAccessKey`, `secret_access_key` and `Secret-Access-Key` all match.
 */
const SECRET_KEYS = new Set([
  'password',
  'passwd',
  'pwd',
  'secret',
  'clientsecret',
  'secretaccesskey',
  'awssecretaccesskey',
  'accesskeyid',
  'awsaccesskeyid',
  'sessiontoken',
  'awssessiontoken',
  'credentials',
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'apikey',
  'token',
  'accesstoken',
  'refreshtoken',
  'privatekey',
  'saslpassword',
]);

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));
}

/** [pattern, replacement] pairs applied in order to every string that is logged. */
const STRING_RULES: ReadonlyArray<readonly [RegExp, string]> = [
  // Userinfo in URIs: postgres://user:pass@host, redis://:pass@host, kafka://u:p@b. The user stays.
  [/\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/?#]*):([^\s@/?#]*)@/gi, `$1$2:${REDACTED}@`],
  // Credentials in query strings, including S3 presigned URLs.
  [
    /([?&](?:password|passwd|pwd|secret|token|access_token|api_key|apikey|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s#"']*/gi,
    `$1${REDACTED}`,
  ],
  // AWS access key ids (long-term AKIA..., temporary ASIA..., and the other documented prefixes).
  [/\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b/g, REDACTED],
  // An authorization header written as text: everything after it on the line is the credential.
  [/\b((?:proxy-)?authorization["']?\s*[:=]\s*["']?)[^"'\r\n]+/gi, `$1${REDACTED}`],
  // Bearer tokens anywhere, and AWS SigV4 signatures ("Signature=<hex>").
  [/\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/g, `Bearer ${REDACTED}`],
  [/\b(Signature=)[0-9a-f]{16,}/gi, `$1${REDACTED}`],
  // key=value and "key": "value" pairs naming a secret, e.g. in a config dump or an error message.
  [
    /\b((?:aws_)?secret_?access_?key|(?:aws_)?session_?token|password|passwd|client_?secret)(["']?\s*[:=]\s*["']?)[^\s"',;&}]+/gi,
    `$1$2${REDACTED}`,
  ],
];

export function redactString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of STRING_RULES) out = out.replace(pattern, replacement);
  return out;
}

const MAX_DEPTH = 10;

/**
 * A copy of `value` safe to print: values of secret-named fields are replaced, passwords in URIs,
 * AWS keys and bearer tokens in strings are masked, and errors become plain objects (type,
 * message with causes, stack, own fields such as `code`), redacted the same way. The input is
 * never modified. Used by the default logger on every line; call it before logging elsewhere.
 */
export function redactSecrets(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Object]';
  if (value instanceof Date || ArrayBuffer.isView(value)) return value;
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    if (value instanceof Error) return walkFields(stdSerializers.err(value), depth, seen, true);
    if (value instanceof Map) return walkFields(Object.fromEntries(value), depth, seen, false);
    if (value instanceof Set) return [...value].map((item) => walk(item, depth + 1, seen));
    return walkFields(value as Record<string, unknown>, depth, seen, false);
  } finally {
    seen.delete(value);
  }
}

function walkFields(source: object, depth: number, seen: WeakSet<object>, inherited: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // pino's serialized errors keep type/message/stack on their prototype, hence for...in there.
  const keys: string[] = [];
  if (inherited) for (const key in source) keys.push(key);
  else keys.push(...Object.keys(source));
  for (const key of keys) {
    const field = (source as Record<string, unknown>)[key];
    if (field === undefined || typeof field === 'function') continue;
    out[key] = isSecretKey(key) ? REDACTED : walk(field, depth + 1, seen);
  }
  return out;
}
