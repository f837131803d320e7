import type { FastifyInstance } from 'fastify';

/**
 * The largest declared body the server reads and discards after refusing it by its length, so
 * that the connection stays open and a client still sending receives the answer.
 */
export const DRAIN_REFUSED_BODY_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Whether a refused request's connection may be kept: a 413 given from the declared
 * Content-Length alone (nothing of the body read yet) and a body no larger than `maxBytes`.
 *
 * Fastify closes the connection after such a 413 (the client may send more), and Node then
 * closes a socket with the unread body in it: TCP resets it, and a client that writes its body
 * before reading (fetch, most SDKs) gets EPIPE or ECONNRESET instead of the problem. Kept open,
 * Node reads the rest of the declared body and throws it away (bounded by the declared length
 * and the server's request timeout); the answer arrives and the connection is reused. A body
 * sent chunked, larger than `maxBytes`, or partly read by a handler keeps Fastify's close.
 */
export function keepConnectionAfterRefusal(refusal: { status: number; contentLength: string | undefined; bodyRead: boolean }, maxBytes = DRAIN_REFUSED_BODY_MAX_BYTES): boolean {
  if (refusal.status !== 413 || refusal.bodyRead || refusal.contentLength === undefined) return false;
  if (!/^\d{1,16}$/.test(refusal.contentLength)) return false;
  return Number(refusal.contentLength) <= maxBytes;
}

/**
 * Installs the rule above as an onError hook: it runs only for errors (nothing on the hot
 * path), before the problem is written, and takes back Fastify's `connection: close` when the
 * rule holds.
 */
export function drainRefusedBodies(fastify: FastifyInstance, maxBytes = DRAIN_REFUSED_BODY_MAX_BYTES): void {
  fastify.addHook('onError', (request, reply, error, done) => {
    const status = (error as { statusCode?: number }).statusCode ?? reply.statusCode;
    if (keepConnectionAfterRefusal({ status, contentLength: request.headers['content-length'], bodyRead: request.raw.readableDidRead }, maxBytes)) reply.removeHeader('connection');
    done();
  });
}
