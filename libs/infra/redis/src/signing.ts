// Signed Redis values: a value that decides access (a cached API key, a session) is stored
// with an HMAC over the Redis key name and the value, so whoever can write to Redis but does
// not hold the server's secret cannot forge one, nor move a valid one to another key.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

const VERSION = 's1';
const MAC_LENGTH = 43; // base64url of 32 bytes

/**
 * The signing key, derived from a server secret (API_KEY_PEPPER) with HKDF-SHA256 and a
 * label of its own, so it is independent of the pepper's other uses (key digests).
 */
export function deriveRedisSigningKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), Buffer.alloc(0), 'stratum/redis-entry-signature/v1', 32));
}

function mac(key: Buffer, name: string, value: string): Buffer {
  // The name's length first: no (name, value) pair can be re-split into another.
  return createHmac('sha256', key).update(`${Buffer.byteLength(name, 'utf8')}:${name}\n`).update(value).digest();
}

/** `s1.<mac>.<value>`: the value to store under `name`. */
export function signRedisValue(key: Buffer, name: string, value: string): string {
  return `${VERSION}.${mac(key, name, value).toString('base64url')}.${value}`;
}

/** The value stored under `name`, or undefined when it is unsigned, forged or was signed for another name. */
export function openRedisValue(key: Buffer, name: string, stored: string | null | undefined): string | undefined {
  if (typeof stored !== 'string' || !stored.startsWith(`${VERSION}.`) || stored.length < VERSION.length + MAC_LENGTH + 2) return undefined;
  if (stored[VERSION.length + 1 + MAC_LENGTH] !== '.') return undefined;
  const given = Buffer.from(stored.slice(VERSION.length + 1, VERSION.length + 1 + MAC_LENGTH), 'base64url');
  const value = stored.slice(VERSION.length + MAC_LENGTH + 2);
  const expected = mac(key, name, value);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  return value;
}

/** Signs and opens values with one key (held by RedisClient). */
export class RedisSigner {
  constructor(private readonly key: Buffer) {}

  static fromSecret(secret: string): RedisSigner {
    return new RedisSigner(deriveRedisSigningKey(secret));
  }

  sign(name: string, value: string): string {
    return signRedisValue(this.key, name, value);
  }

  open(name: string, stored: string | null | undefined): string | undefined {
    return openRedisValue(this.key, name, stored);
  }
}
