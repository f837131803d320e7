import { randomBytes } from 'node:crypto';

/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, a 12-bit counter in rand_a
 * (RFC 9562 §6.2 method 1) and 62 random bits. Ids made by one process sort in creation
 * order even within the same millisecond; when the counter runs out in a millisecond, or the
 * clock steps back, the timestamp is carried forward from the last id instead.
 */
let lastMs = -1;
let counter = 0;

const COUNTER_MAX = 0xfff;

export function uuidv7(now: number = Date.now()): string {
  const rand = randomBytes(10);
  if (now > lastMs) {
    lastMs = now;
    // Start low in the counter space so many ids fit in the same millisecond.
    counter = ((rand[0]! << 8) | rand[1]!) & 0x3ff;
  } else if (counter < COUNTER_MAX) {
    counter++;
  } else {
    lastMs++;
    counter = ((rand[0]! << 8) | rand[1]!) & 0x3ff;
  }
  const bytes = Buffer.alloc(16);
  // 48-bit big-endian timestamp
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  rand.copy(bytes, 8, 2, 10);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Milliseconds since the Unix epoch encoded in a UUIDv7. */
export function uuidv7Timestamp(id: string): number {
  return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
