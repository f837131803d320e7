import { randomBytes } from 'node:crypto';

const INBOUND = /^[A-Za-z0-9._:-]{8,128}$/;

/** Keeps a well-formed inbound x-request-id (for tracing across proxies), else makes one. */
export function requestIdFor(inbound: string | string[] | undefined): string {
  if (typeof inbound === 'string' && INBOUND.test(inbound)) return inbound;
  return 'req_' + randomBytes(12).toString('base64url');
}
