import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { repoRoot } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { DASHBOARD_CSP, loadDashboardFiles, resolveDashboardPath } from './dashboard-files.js';

/** Where `npm run build` puts the dashboard (scripts/build-dashboard.mjs). */
export const DASHBOARD_DIR = join(repoRoot(), 'dist', 'dashboard');

/**
 * Serves the tenants' dashboard (a static React app) under /dashboard: its hashed assets with
 * long-lived caching, every other path with index.html (the app routes on the client), each
 * answer with the dashboard's Content-Security-Policy. The app itself calls the public API
 * with the session cookie and X-CSRF-Token, like any other client.
 */
export function mountDashboard(app: NestFastifyApplication, dir = DASHBOARD_DIR): void {
  const files = loadDashboardFiles(dir);
  const fastify = app.getHttpAdapter().getInstance();
  const answer = (path: string, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const found = resolveDashboardPath(files, path);
    if (found.status === 404) {
      const problem = new ProblemError('not_found', files.size === 0 ? 'The dashboard has not been built (run `npm run build`).' : 'No such file of the dashboard.');
      return reply.status(problem.status).header('content-type', 'application/problem+json; charset=utf-8').send(JSON.stringify(problem.toBody(request.id)));
    }
    return reply
      .status(200)
      .header('content-type', found.file.type)
      .header('cache-control', found.file.cacheControl)
      .header('content-security-policy', DASHBOARD_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin')
      .send(found.file.body);
  };
  fastify.get('/dashboard', (request: FastifyRequest, reply: FastifyReply) => answer('', request, reply));
  fastify.get('/dashboard/*', (request: FastifyRequest<{ Params: { '*': string } }>, reply: FastifyReply) => answer(request.params['*'], request, reply));
}
