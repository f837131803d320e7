import { applyDecorators, Injectable, UseInterceptors, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, mergeMap, type Observable } from 'rxjs';
import { ProblemError } from '#infra/errors';
import { requestFingerprint } from './fingerprint.js';
import { parseIdempotencyKey } from './headers.js';
import { IdempotencyStore } from './idempotency.store.js';

/** Response headers a replay repeats (the body and status are always repeated). */
const KEPT_HEADERS = ['location', 'cache-control', 'preference-applied', 'x-prediction-id'] as const;

/** What the guards left on the request (read structurally: this lib does not import them). */
type GuardedRequest = FastifyRequest & {
  apiKey?: { orgId: string; mode: string };
  actor?: { kind: 'user'; orgId: string } | { kind: 'api_key'; orgId: string; mode: string };
  user?: { userId: string };
};

/**
 * Whose key space a request's Idempotency-Key lives in: an organization and a mode (a test
 * key never sees, nor claims, a live request's key), or a logged-in user for routes outside
 * any organization. Session users act in live mode.
 */
export function idempotencyScope(req: GuardedRequest): string | null {
  if (req.actor) return `org:${req.actor.orgId}:${req.actor.kind === 'api_key' ? req.actor.mode : 'live'}`;
  if (req.apiKey) return `org:${req.apiKey.orgId}:${req.apiKey.mode}`;
  if (req.user) return `user:${req.user.userId}`;
  return null;
}

/**
 * Stripe's idempotency on a creating POST: the first request with a key runs and its 2xx
 * response is stored; a retry with the same key and the same request replays that response
 * (original status and body, `Idempotent-Replayed: true`); another request under the key is
 * 422, a retry while the first still runs 409. A request that ends in an error stores
 * nothing (a retry runs again). Runs after the guards, so only an authorised caller claims.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(private readonly store: IdempotencyStore) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = context.switchToHttp().getRequest<GuardedRequest>();
    const key = parseIdempotencyKey(req.headers['idempotency-key']);
    const scope = key === undefined ? null : idempotencyScope(req);
    if (key === undefined || scope === null) return next.handle();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const hash = requestFingerprint(req.method, req.url, req.body);
    return from(this.store.begin(scope, key, hash)).pipe(
      mergeMap((begun) => {
        switch (begun.kind) {
          case 'mismatch':
            throw new ProblemError('idempotency_key_reused', 'This Idempotency-Key was used for a different request (method, path or body) within its lifetime; use a new key.', { extensions: { header: 'Idempotency-Key' } });
          case 'in_flight':
            throw new ProblemError('idempotency_in_flight', 'A request with this Idempotency-Key is still being processed; retry once it has finished.', { extensions: { header: 'Idempotency-Key' }, headers: { 'retry-after': '1' } });
          case 'replay': {
            const r = begun.response;
            for (const [name, value] of Object.entries(r.headers)) void reply.header(name, value);
            void reply.header('idempotent-replayed', 'true');
            void reply.status(r.status);
            return [r.body];
          }
          case 'claimed':
            return from(this.run(next, reply, begun.claim));
        }
      }),
    );
  }

  private async run(next: CallHandler, reply: FastifyReply, claim: Parameters<IdempotencyStore['complete']>[0]): Promise<unknown> {
    let body: unknown;
    try {
      body = await lastValueFrom(next.handle(), { defaultValue: undefined });
    } catch (e) {
      await this.store.release(claim).catch(() => undefined);
      throw e;
    }
    const status = reply.statusCode;
    if (status >= 200 && status < 300) {
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const v = reply.getHeader(name);
        if (v !== undefined) headers[name] = String(v);
      }
      await this.store.complete(claim, { status, headers, body });
    } else {
      await this.store.release(claim);
    }
    return body;
  }
}

/** Marks a creating POST as idempotent (the `Idempotency-Key` header) and documents the header. */
export function Idempotent(): MethodDecorator {
  return applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'Up to 255 visible ASCII characters (a UUID), bare or quoted. A retry with the same key and body replays the first response (`Idempotent-Replayed: true`); another body → 422 `idempotency_key_reused`; while the first runs → 409 `idempotency_in_flight`. Kept 24 h, per organization and mode.',
    }),
  );
}
