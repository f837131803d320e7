import { randomFillSync } from 'node:crypto';

const INBOUND = /^[A-Za-z0-9._:-]{8,128}$/;
const ID_BYTES = 12;
/** Random bytes for 256 ids, drawn from the CSPRNG in one call (one syscall per 256 requests, not one per request). */
const pool = Buffer.alloc(ID_BYTES * 256);
let offset = pool.length;

/** Keeps a well-formed inbound x-request-id (for tracing across proxies), else makes one. */
export function requestIdFor(inbound: string | string[] | undefined): string {
  if (typeof inbound === 'string' && INBOUND.test(inbound)) return inbound;
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = 'req_' + pool.toString('base64url', offset, offset + ID_BYTES);
  offset += ID_BYTES;
  return id;
}
