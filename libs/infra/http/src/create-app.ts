import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ConfigError, readProcessEnv, type Env } from '#infra/config';
import { ProblemError } from '#infra/errors';
import { MetricsRegistry, type HistogramSeries } from '#infra/metrics';
import { findNulInRequest, nulRefusal } from './nul-guard.js';
import { drainRefusedBodies } from './refused-body.js';
import { ProblemFilter } from './problem.filter.js';
import { requestIdFor } from './request-id.js';
import { appendRouteHook } from './route-hooks.js';
import { routeTableOf } from './route-table.js';

export interface HttpAppOptions {
  bodyLimit: number;
  logLevel: LogLevel;
  /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe (request.ip). Default: none. */
  trustProxy?: boolean | number | string[];
  /** Paths whose problems also carry a plain `error` string (see ProblemFilterOptions). */
  errorMember?: (path: string) => boolean;
  /** A route's own body limit (by method and route pattern); undefined keeps `bodyLimit`. */
  bodyLimitFor?: (method: string, route: string) => number | undefined;
}

/** A hop count becomes "trust the nearest n proxies" (Fastify's typings take a function for it). */
function trustProxyOption(v: HttpAppOptions['trustProxy']): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof v === 'number') return (_address: string, hop: number) => hop < v;
  return v ?? false;
}

/** The duration observer createHttpApp added to a route (one per route). */
const METRICS_HOOK = Symbol('stratum.http-metrics');

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

/**
 * A Nest application on Fastify with Stratum's HTTP conventions: request ids in and out,
 * JSON bodies only (415 otherwise), a body limit (413, per route with `bodyLimitFor`), no NUL
 * characters in path, query or JSON body (422 validation_failed), problem+json for every error,
 * and the request-duration histogram.
 */
export async function createHttpApp(module: unknown, options: HttpAppOptions): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: options.bodyLimit,
    trustProxy: trustProxyOption(options.trustProxy),
    genReqId: (req: { headers: Record<string, string | string[] | undefined> }) => requestIdFor(req.headers['x-request-id']),
    requestIdHeader: false,
    // URLs the router refuses before any hook (a path segment over 100 characters, a bad
    // escape) get a problem too, without echoing the URL (Fastify's own answer repeats it).
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const problem =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? new ProblemError('not_found', 'Nothing is named by a path segment of more than 100 characters.') : new ProblemError('bad_request', 'The URL is not valid.');
      void reply.status(problem.status).header('content-type', 'application/problem+json; charset=utf-8').send(JSON.stringify(problem.toBody(request.id)));
    },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(module as never, adapter, {
    bodyParser: false,
    logger: LEVELS.slice(0, LEVELS.indexOf(options.logLevel) + 1),
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  // Only JSON bodies: text/plain is one of Fastify's defaults, drop it so it gets a 415.
  fastify.removeContentTypeParser('text/plain');
  // Hot path: the per-request hooks below are callback-style (no promise per hook and request).
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  // Every route, as Fastify registers it: 405 with Allow for a known path, and the admin /routes listing.
  const routes = routeTableOf(app);
  fastify.addHook('onRoute', (route) => {
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) routes.add(String(m), route.url);
  });
  const bodyLimitFor = options.bodyLimitFor;
  if (bodyLimitFor) {
    // Runs as Nest registers each route (at init), before Fastify fixes the route's parser limit.
    fastify.addHook('onRoute', (route) => {
      const limit = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => bodyLimitFor(String(m), route.url)).find((l) => l !== undefined);
      if (limit !== undefined && route.bodyLimit === undefined) route.bodyLimit = limit;
    });
  }
  // Errors answered before the body was read: drain a small body or close (refused-body.ts).
  drainRefusedBodies(fastify);
  // Postgres refuses U+0000 in text: one rule for every route, 422 before any handler sees it.
  fastify.addHook('preValidation', (request, _reply, done) => {
    const found = findNulInRequest(request);
    if (found) done(nulRefusal(found));
    else done();
  });
  let metrics: MetricsRegistry | undefined;
  try {
    metrics = app.get(MetricsRegistry, { strict: false });
  } catch {
    metrics = undefined;
  }
  if (metrics) {
    const histogram = metrics.httpDuration;
    // Each route observes with its own hook, its pattern known at registration and one labelled
    // child per method and status (no label object hashed per request); requests that matched no
    // route are observed by the one global hook, which skips the others at once.
    const observerFor = (route: string) => {
      const children = new Map<string, HistogramSeries>();
      return (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        const k = `${request.method} ${reply.statusCode}`;
        let child = children.get(k);
        if (child === undefined) children.set(k, (child = histogram.series({ method: request.method, route, status: String(reply.statusCode) })));
        child.observe(reply.elapsedTime / 1000);
        done();
      };
    };
    fastify.addHook('onRoute', (route) => appendRouteHook(route, 'onResponse', METRICS_HOOK, observerFor(route.url)));
    fastify.addHook('onResponse', (request, reply, done) => {
      if (request.is404) histogram.observe({ method: request.method, route: 'unmatched', status: String(reply.statusCode) }, reply.elapsedTime / 1000);
      done();
    });
  }
  app.useGlobalFilters(new ProblemFilter(options.errorMember ? { errorMember: options.errorMember } : {}));
  return app;
}

/**
 * Runs an app: validates the configuration first (exit 1 with every bad variable named),
 * starts it, and on SIGINT/SIGTERM closes it (shutdown hooks run) and exits 0.
 */
export async function runApp(name: string, start: (env: Env) => Promise<{ close(): Promise<void> }>, opts: { shutdownBudgetMs?: (env: Env) => number } = {}): Promise<void> {
  let env: Env;
  try {
    env = readProcessEnv();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`${name}: ${e.message}`);
      process.exit(1);
    }
    throw e;
  }
  let app: { close(): Promise<void> };
  try {
    app = await start(env);
  } catch (e) {
    new Logger(name).fatal(`failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    new Logger(name).log(`${signal}: shutting down`);
    const budgetMs = opts.shutdownBudgetMs?.(env) ?? 8_000;
    const force = setTimeout(() => {
      new Logger(name).error(`shutdown took longer than ${budgetMs} ms; exiting`);
      process.exit(1);
    }, budgetMs);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (e: unknown) => {
        new Logger(name).error(`shutdown failed: ${String(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export async function listen(app: NestFastifyApplication, host: string, port: number, name: string): Promise<string> {
  await app.listen({ host, port });
  const address = app.getHttpServer().address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}`;
  new Logger(name).log(`listening on ${url}`);
  return url;
}
