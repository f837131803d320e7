import { createParamDecorator, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ProblemError } from '#infra/errors';
import { ApiKeyVerifier, bearerToken, type AuthenticatedKey } from './api-key-verifier.js';
import type { ApiKeyScope } from './scopes.js';

const PREDICT: ApiKeyScope = 'predict';

type AuthedRequest = FastifyRequest & { apiKey?: AuthenticatedKey };

/**
 * Requires a valid API key with the `predict` scope; puts the key on the request. Failed
 * verifications are counted per client IP (request.ip: behind a proxy, configure Fastify's
 * trustProxy so it is the client's) and answered 429 past the limit.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly verifier: ApiKeyVerifier) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    // The gateway verifies keys before the body is read (onRequest) and leaves the key here:
    // then the check is synchronous (Nest awaits no promise for it).
    if (request.apiKey) return this.allow(request, request.apiKey);
    return this.verifier.verify(bearerToken(request.headers.authorization), request.ip).then((key) => this.allow(request, key));
  }

  private allow(request: AuthedRequest, key: AuthenticatedKey): boolean {
    if (!key.scopes.includes(PREDICT)) throw new ProblemError('forbidden', `This API key lacks the "${PREDICT}" scope.`);
    request.apiKey = key;
    return true;
  }
}

/** The verified key of the request (use behind ApiKeyGuard). */
export const CurrentKey = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedKey => {
  const key = context.switchToHttp().getRequest<AuthedRequest>().apiKey;
  if (!key) throw new Error('CurrentKey used on a route without ApiKeyGuard');
  return key;
});
