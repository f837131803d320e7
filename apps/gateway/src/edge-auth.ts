import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiKeyVerifier, bearerToken, type AuthenticatedKey } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { appendRouteHook, routeTableOf } from '#infra/http';
import { RateLimiter } from '#platform/rate-limits';
import { SessionStore, sessionRequired } from '#platform/identity';

/**
 * What a route needs before its body may be read:
 * - `api_key`: a verified API key (predictions, features, models, the v2 protocol);
 * - `key_or_session`: a verified API key when `Authorization` is sent, else a session cookie;
 * - `session`: a session cookie (its guard then checks the session and CSRF);
 * - `none`: sign-up, log-in, accepting an invitation, health and docs.
 */
export type EdgeAuth = 'api_key' | 'key_or_session' | 'session' | 'none';

const under = (url: string, prefix: string): boolean => url === prefix || url.startsWith(`${prefix}/`);

/**
 * Stripe's webhook receiver: public (Stripe holds no API key), guarded by the Stripe-Signature
 * checked on the raw body (#platform/stripe-billing); answers 400 invalid_signature otherwise.
 */
export const STRIPE_WEBHOOK_ROUTE = '/webhooks/stripe';
/** Routes with no key or session whose guard is a signature over the body ("METHOD /pattern"). */
export const SIGNATURE_GUARDED_ROUTES: readonly string[] = [`POST ${STRIPE_WEBHOOK_ROUTE}`];

/** The edge rule of a route, by its Fastify pattern (e.g. "/v1/orgs/:org/api-keys"). Pure. */
export function edgeAuthOf(method: string, route: string): EdgeAuth {
  // Probes call the protocol's health routes without a key.
  if (route === '/v2/health/live' || route === '/v2/health/ready') return 'none';
  if (SIGNATURE_GUARDED_ROUTES.includes(`${method} ${route}`)) return 'none';
  if (under(route, '/v1/predictions') || under(route, '/v1/features') || under(route, '/v1/models') || under(route, '/v2')) return 'api_key';
  if (route === '/v1/orgs') return method === 'GET' ? 'key_or_session' : 'session';
  if (under(route, '/v1/orgs')) return 'key_or_session';
  if (route === '/v1/me' || route === '/v1/auth/logout') return 'session';
  return 'none';
}

/** The route that receives model files (a raw stream, limited by the plan's upload limit, not by the body limit). */
const UPLOAD_ROUTE = '/v1/orgs/:org/models/:name/versions/:version';

/**
 * Management routes (organizations, members, invitations, keys, auth) take small JSON bodies:
 * they get `managementLimit`; prediction routes keep the general limit. Undefined = the default.
 */
export function bodyLimitOf(method: string, route: string, managementLimit: number): number | undefined {
  if (method === 'POST' && route === UPLOAD_ROUTE) return undefined;
  if (route === STRIPE_WEBHOOK_ROUTE) return managementLimit;
  if (under(route, '/v1/orgs') || under(route, '/v1/auth') || under(route, '/v1/invitations') || route === '/v1/me') return managementLimit;
  return undefined;
}

/** The upload route reads the raw file only: any other declared content type is a 415 naming the right one (before any parser reads the body). */
export function refuseNonOctetStream(contentType: string | undefined): void {
  if (contentType === undefined) return;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/octet-stream') {
    throw new ProblemError('unsupported_media_type', `Send the model file as the raw body with Content-Type: application/octet-stream (not ${JSON.stringify(type.slice(0, 100))}).`);
  }
}

type EdgeRequest = FastifyRequest & { apiKey?: AuthenticatedKey };
type HookDone = (err?: Error) => void;
type EdgeHook = (request: EdgeRequest, reply: FastifyReply, done: HookDone) => void;

/** A hook installEdgeAuth added to a route (a route is given at most one). */
const EDGE_HOOK = Symbol('stratum.edge-auth');

/**
 * Authenticates at Fastify's onRequest, before a byte of the body is read or parsed: a
 * missing, malformed, unknown or expired key is a 401 (the failure throttle counts it as
 * the guard would), a key route's key is verified here and handed to ApiKeyGuard; a
 * session-only route without a session cookie is a 401 too. A known path asked with another
 * method is a 405 with `Allow`; a request for no route with a body is answered 404 before the
 * body is read.
 *
 * Each route gets the hook of its own rule as Fastify registers it (`onRoute`, before Nest's
 * routes are added at init): a route without a key or session has none, and a key route's hook
 * knows its rule and pattern without reading them per request. One global hook handles
 * requests that matched no route.
 */
export function installEdgeAuth(app: NestFastifyApplication): void {
  const verifier = app.get(ApiKeyVerifier, { strict: false });
  const sessions = app.get(SessionStore, { strict: false });
  const routes = routeTableOf(app);
  const limiter = app.get(RateLimiter, { strict: false });
  const fastify = app.getHttpAdapter().getInstance();
  // Every key request counts against the key's and the organization's rate (README "Rate limits").
  const admit = async (key: AuthenticatedKey, reply: FastifyReply): Promise<void> => {
    void reply.headers(await limiter.admit(key));
  };
  const authenticate = async (request: EdgeRequest, reply: FastifyReply): Promise<void> => {
    request.apiKey = await verifier.verify(bearerToken(request.headers.authorization), request.ip);
    await admit(request.apiKey, reply);
  };
  /** A key route: callback style, and a key cached here and far from its limit costs no promise. */
  const keyed = (request: EdgeRequest, reply: FastifyReply, done: HookDone, upload: boolean): void => {
    const key = verifier.verifyCached(bearerToken(request.headers.authorization));
    const headers = key && limiter.admitLocal(key);
    if (key && headers) {
      request.apiKey = key;
      void reply.headers(headers);
      if (upload) refuseNonOctetStream(request.headers['content-type']);
      return done();
    }
    if (key) request.apiKey = key;
    (key ? admit(key, reply) : authenticate(request, reply))
      .then(() => {
        if (upload) refuseNonOctetStream(request.headers['content-type']);
      })
      .then(
        () => done(),
        (e: unknown) => done(e as Error),
      );
  };
  const hookFor = (rule: Exclude<EdgeAuth, 'none'>, upload: boolean): EdgeHook => {
    return (request, reply, done) => {
      try {
        if (rule === 'api_key' || (rule === 'key_or_session' && request.headers.authorization !== undefined)) return keyed(request, reply, done, upload);
        if (!sessions.hasCookie(request)) throw sessionRequired();
        if (upload) refuseNonOctetStream(request.headers['content-type']);
        done();
      } catch (e) {
        done(e as Error);
      }
    };
  };
  fastify.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map(String);
    const upload = route.url === UPLOAD_ROUTE && methods.includes('POST');
    const byMethod = new Map<string, EdgeHook>();
    for (const m of methods) {
      const rule = edgeAuthOf(m, route.url);
      if (rule !== 'none') byMethod.set(m, hookFor(rule, upload));
    }
    if (byMethod.size === 0) return;
    // Nest registers each method on its own: one hook; a registration for several methods picks by method.
    const only = byMethod.size === 1 && methods.length === 1 ? [...byMethod.values()][0]! : undefined;
    const hook: EdgeHook =
      only ??
      ((request, reply, done) => {
        const h = byMethod.get(request.method);
        if (h) h(request, reply, done);
        else done();
      });
    appendRouteHook(route, 'onRequest', EDGE_HOOK, hook);
  });
  // No route matched: a known path with another method is 405 with Allow; a body for no route is refused before it is read.
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (!request.is404) return done();
    try {
      const path = request.url.split('?')[0] ?? '/';
      const allow = routes.methodsFor(path);
      if (allow.length > 0) {
        throw new ProblemError('method_not_allowed', `${path.length > 200 ? 'This path' : path} does not take ${request.method}; it takes ${allow.join(', ')}.`, { headers: { allow: allow.join(', ') } });
      }
      if (request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined) {
        throw new ProblemError('route_not_found', `No route for ${request.method} ${path.length > 200 ? 'this path' : path}.`);
      }
      done();
    } catch (e) {
      done(e as Error);
    }
  });
}
