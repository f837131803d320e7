import type { FastifyInstance } from 'fastify';

/**
 * The largest declared body the server reads and discards after refusing the request before
 * reading it, so that the connection stays open and a client still sending receives the answer.
 */
export const DRAIN_REFUSED_BODY_MAX_BYTES = 64 * 1024 * 1024;

/** What is known of the body of a request answered with an error. */
export interface Refusal {
  /** The Content-Length header as sent. */
  contentLength: string | undefined;
  /** Transfer-Encoding was sent (a chunked body of unknown length). */
  chunked: boolean;
  /** A parser or handler has read some of the body. */
  bodyRead: boolean;
}

/**
 * What to do with the connection after an error answer given before the body was read:
 * `keep` it (the body is read and discarded), `close` it, or leave it `as-is`.
 *
 * - A body declared at most `maxBytes` long: `keep`. Fastify closes the connection after a 413
 *   it decided from the Content-Length, and Node then closes a socket with the unread body in
 *   it: TCP resets it, and a client that writes its body before reading (fetch, most SDKs) gets
 *   EPIPE or ECONNRESET instead of the problem. Kept, Node reads the rest (bounded by the
 *   declared length) and the answer arrives.
 * - A larger body, one of unknown length (chunked) or a malformed length: `close`. Otherwise
 *   Node would read whatever the client keeps sending after, say, a 401 (until the request
 *   timeout), for nobody.
 * - No body, or a body a parser or handler already read (uploads decide for themselves): `as-is`.
 */
export function connectionAfterRefusal(r: Refusal, maxBytes = DRAIN_REFUSED_BODY_MAX_BYTES): 'keep' | 'close' | 'as-is' {
  if (r.bodyRead) return 'as-is';
  if (r.chunked) return 'close';
  if (r.contentLength === undefined || r.contentLength === '0') return 'as-is';
  if (!/^\d{1,16}$/.test(r.contentLength)) return 'close';
  return Number(r.contentLength) <= maxBytes ? 'keep' : 'close';
}

/**
 * Installs the rule above as an onError hook: it runs only for errors (nothing on the hot
 * path), before the problem is written.
 */
export function drainRefusedBodies(fastify: FastifyInstance, maxBytes = DRAIN_REFUSED_BODY_MAX_BYTES): void {
  fastify.addHook('onError', (request, reply, _error, done) => {
    const h = request.headers;
    const decision = connectionAfterRefusal(
      { contentLength: h['content-length'], chunked: h['transfer-encoding'] !== undefined, bodyRead: request.raw.readableDidRead },
      maxBytes,
    );
    if (decision === 'keep') reply.removeHeader('connection');
    else if (decision === 'close') reply.header('connection', 'close');
    done();
  });
}
