import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.keys(value)
    .sort()
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${entries.join(',')}}`;
}

/**
 * What makes two requests "the same" for an Idempotency-Key: method, path (with its query)
 * and body. A parsed JSON body is compared canonically (key order and whitespace do not
 * matter); a raw body (a model upload) byte for byte. Returns a hex SHA-256.
 */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  const h = createHash('sha256').update(method.toUpperCase()).update('\n').update(url).update('\n');
  if (Buffer.isBuffer(body)) h.update('bytes\n').update(body);
  else if (typeof body === 'string') h.update('text\n').update(body);
  else h.update('json\n').update(body === undefined ? '' : canonicalJson(body));
  return h.digest('hex');
}
