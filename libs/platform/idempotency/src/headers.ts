import { ProblemError } from '#infra/errors';

/** A 400 naming the header (`header` extension), for headers the server cannot ignore. */
export function invalidHeader(header: string, detail: string): ProblemError {
  return new ProblemError('invalid_header', detail, { extensions: { header } });
}

/** Longest Idempotency-Key accepted (Stripe's limit). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Parses `Idempotency-Key`. The IETF draft makes it a Structured Field String
 * (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`); most clients (Stripe's, Replicate's) send the bare
 * value. Both are accepted: a quoted value is read as an sf-string (printable ASCII, `\"` and
 * `\\` escapes), anything else must be 1-255 visible ASCII characters without quotes. The key
 * is the value after unquoting, so `"abc"` and `abc` are the same key. Undefined when absent;
 * a malformed or repeated header throws 400 `invalid_header` (the draft: 400 for a bad key).
 */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  const bad = (why: string) => invalidHeader('Idempotency-Key', `Idempotency-Key ${why}; send 1-${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, e.g. a UUID.`);
  if (typeof header !== 'string') throw bad('was sent more than once');
  const raw = header.trim();
  let key: string;
  if (raw.startsWith('"')) {
    const s = parseSfString(raw);
    if (s === null) throw bad('is not a valid quoted string');
    key = s;
  } else {
    if (raw.includes('"') || !TOKEN.test(raw)) throw bad(raw === '' ? 'is empty' : 'contains characters other than visible ASCII');
    key = raw;
  }
  if (key.length === 0) throw bad('is empty');
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw bad(`is longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  return key;
}

/** RFC 8941 sf-string: the whole input must be one quoted string; null when it is not. */
function parseSfString(raw: string): string | null {
  let out = '';
  for (let i = 1; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\\') {
      const next = raw[i + 1];
      if (next !== '"' && next !== '\\') return null;
      out += next;
      i++;
    } else if (c === '"') {
      return i === raw.length - 1 ? out : null;
    } else {
      const code = c.charCodeAt(0);
      if (code < 0x20 || code > 0x7e) return null;
      out += c;
    }
  }
  return null;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * Parses `Cancel-After` (Replicate's header) into milliseconds: seconds as a bare number
 * (`90`, `2.5`) or a duration of one or more number+unit parts (`30s`, `5m`, `1h30m`,
 * `1m30.5s`, `500ms`; units ms, s, m, h). Undefined when absent. It is not a preference the
 * server may ignore: a malformed, repeated, zero or over-long value throws 400 `invalid_header`.
 */
export function parseCancelAfter(header: string | string[] | undefined, maxMs: number): number | undefined {
  if (header === undefined) return undefined;
  const bad = (why: string) => invalidHeader('Cancel-After', `Cancel-After ${why}; send seconds (90) or a duration such as 30s, 5m or 1h30m.`);
  if (typeof header !== 'string') throw bad('was sent more than once');
  const raw = header.trim();
  if (raw.length === 0 || raw.length > 32) throw bad('is empty or too long');
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(raw)) {
    ms = Number(raw) * 1_000;
  } else {
    const part = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
    ms = 0;
    let at = 0;
    for (let m = part.exec(raw); m !== null; m = part.exec(raw)) {
      ms += Number(m[1]) * UNIT_MS[m[2]!]!;
      at = part.lastIndex;
    }
    if (at !== raw.length || at === 0) throw bad(`is not a duration (${JSON.stringify(raw)})`);
  }
  ms = Math.round(ms);
  if (!Number.isFinite(ms) || ms < 1_000) throw bad('must be at least 1 second');
  if (ms > maxMs) throw bad(`must be at most ${Math.floor(maxMs / 1000)} seconds (the prediction deadline)`);
  return ms;
}
