import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type KeyMode = 'live' | 'test';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
/** 32 base62 characters carry log2(62)*32 ≈ 190 bits, well above the 128 required. */
export const KEY_RANDOM_LENGTH = 32;
const KEY_PATTERN = /^sk_(live|test)_([0-9A-Za-z]{32})$/;
/** Characters of the random part kept in the display prefix. */
const DISPLAY_CHARS = 4;

/** Uniform base62 characters from the CSPRNG (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

export interface GeneratedKey {
  /** The whole secret: shown once, never stored. */
  secret: string;
  mode: KeyMode;
  /** Safe to store and show, e.g. "sk_live_3fZq". */
  displayPrefix: string;
}

export function generateApiKey(mode: KeyMode): GeneratedKey {
  const secret = `sk_${mode}_${randomBase62(KEY_RANDOM_LENGTH)}`;
  return { secret, mode, displayPrefix: displayPrefixOf(secret) };
}

export function displayPrefixOf(secret: string): string {
  const m = KEY_PATTERN.exec(secret);
  if (!m) throw new Error('not an API key');
  return `sk_${m[1]}_${m[2]!.slice(0, DISPLAY_CHARS)}`;
}

/** Parses the shape only; says nothing about whether the key exists. */
export function parseApiKey(candidate: string): { mode: KeyMode } | null {
  const m = KEY_PATTERN.exec(candidate);
  return m ? { mode: m[1] as KeyMode } : null;
}

/** Keyed digest stored in the database: hex HMAC-SHA-256 with the server-side pepper. */
export function digestApiKey(secret: string, pepper: string): string {
  return createHmac('sha256', pepper).update(secret).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function digestsEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
