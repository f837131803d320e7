import { lookup as dnsLookup } from 'node:dns/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget, type ResolvedAddress, type Resolver } from './address.js';
import type { BlockList } from 'node:net';

/** At most this much of a receiver's answer is kept with the attempt. */
export const RESPONSE_SNIPPET_BYTES = 1024;

export const systemResolver: Resolver = async (hostname) => (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family as 4 | 6 }));

export interface PostOptions {
  resolve: Resolver;
  allowed: BlockList;
  timeoutMs: number;
}

export interface PostOutcome {
  /** HTTP status; null when no answer came (refused address, connection error, timeout). */
  status: number | null;
  /** The answer's first bytes, or what went wrong. */
  response: string;
  retryAfter: string | null;
  durationMs: number;
}

/** A lookup that answers the address already checked, whatever the name: the connection goes where the check looked. */
function pinned(a: ResolvedAddress): LookupFunction {
  return ((_host: string, opts: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (opts?.all) cb(null, [{ address: a.address, family: a.family }]);
    else cb(null, a.address, a.family);
  }) as unknown as LookupFunction;
}

/**
 * POSTs one webhook: resolves the host once, refuses a disallowed address, connects to the
 * resolved address (Host header and TLS name stay the URL's), follows no redirect, and keeps
 * at most RESPONSE_SNIPPET_BYTES of the answer.
 */
export async function postWebhook(url: string, headers: Record<string, string>, body: string, opts: PostOptions): Promise<PostOutcome> {
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { status: null, response: 'invalid URL', retryAfter: null, durationMs: took() };
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') return { status: null, response: `refused: scheme ${target.protocol}`, retryAfter: null, durationMs: took() };
  const decision = await resolveTarget(target.hostname, opts.resolve, opts.allowed);
  if (!decision.ok) return { status: null, response: decision.reason, retryAfter: null, durationMs: took() };
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const finish = (o: Omit<PostOutcome, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...o, durationMs: took() });
    };
    const req = request(
      target,
      {
        method: 'POST',
        lookup: pinned(decision.address),
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Stratum-Webhooks/1' },
        agent: false,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < RESPONSE_SNIPPET_BYTES) chunks.push(c.subarray(0, RESPONSE_SNIPPET_BYTES - size));
          size += c.length;
          if (size >= RESPONSE_SNIPPET_BYTES) res.destroy();
        });
        const done = () => {
          const ra = res.headers['retry-after'];
          finish({ status: res.statusCode ?? null, response: Buffer.concat(chunks).toString('utf8'), retryAfter: typeof ra === 'string' ? ra : null });
        };
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`timed out after ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on('error', (e: Error) => finish({ status: null, response: `error: ${e.message}`, retryAfter: null }));
    req.end(body);
  });
}
