import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ApiKeyVerifier, bearerToken } from '#platform/api-keys';
import type { Organization } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { SessionStore, sessionRequired, type SessionUser } from '#platform/identity';
import { actorRefusal, type Actor } from './actor.js';
import { MembershipsRepository } from './memberships.repository.js';
import { OrganizationsRepository } from './organizations.repository.js';
import type { Permission } from './permissions.js';

/** Metadata key of @RequirePermission. */
export const PERMISSION_KEY = 'stratum:permission';

/** The permission an organization route needs. Every route behind OrgGuard must declare one. */
export const RequirePermission = (permission: Permission) => SetMetadata(PERMISSION_KEY, permission);

/** What the guards put on the request. */
export type TenancyRequest = FastifyRequest & { user?: SessionUser; actor?: Actor; org?: Organization; csrfToken?: string };

/** One answer for an unknown organization, another tenant's key and a non-member: nothing to tell apart. */
export function orgNotFound(): ProblemError {
  return new ProblemError('not_found', 'No such organization.');
}

/** Requires a valid dashboard session cookie (401 otherwise); non-GET requests must carry the CSRF token (403). */
@Injectable()
export class SessionGuard implements CanActivate {
  constructor(private readonly sessions: SessionStore) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<TenancyRequest>();
    const session = await this.sessions.authenticate(request);
    if (!session) throw sessionRequired();
    request.user = { userId: session.userId, email: session.email, sessionId: session.sessionId };
    request.csrfToken = session.csrfToken;
    return true;
  }
}

/**
 * Guards `/v1/orgs/:org/…` (`:org` = the organization's uuid or slug). The caller is an API
 * key of that organization (`Authorization: Bearer sk_…`) or a member with a session cookie
 * (CSRF on non-GET). Unknown organization, another organization's key and non-members all
 * get the same 404; a caller without the route's permission gets 403. A route without
 * @RequirePermission is refused (500 at the call; TenancyModule also refuses it at start-up).
 */
@Injectable()
export class OrgGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly verifier: ApiKeyVerifier,
    private readonly sessions: SessionStore,
    private readonly orgs: OrganizationsRepository,
    private readonly memberships: MembershipsRepository,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION_KEY, [context.getHandler(), context.getClass()]);
    if (permission === undefined) {
      throw new Error(`${context.getClass().name}.${context.getHandler().name} is behind OrgGuard without @RequirePermission`);
    }
    const request = context.switchToHttp().getRequest<TenancyRequest>();
    const ip = request.ip ?? null;

    // Authenticate first, so an anonymous caller cannot probe which organizations exist.
    const authorization = request.headers.authorization;
    const key = authorization !== undefined ? await this.verifier.verify(bearerToken(authorization), request.ip) : null;
    const session = key ? null : await this.sessions.authenticate(request);
    if (!key && !session) throw sessionRequired();

    const params = request.params as Record<string, string | undefined>;
    const org = await this.orgs.resolve(params.org ?? '');
    if (!org) throw orgNotFound();

    let actor: Actor;
    if (key) {
      if (key.orgId !== org.id) throw orgNotFound();
      actor = { kind: 'api_key', keyId: key.keyId, orgId: org.id, scopes: key.scopes, mode: key.mode, ip };
    } else {
      const s = session!;
      const membership = await this.memberships.findByUser({ orgId: org.id }, s.userId);
      if (!membership) throw orgNotFound();
      request.user = { userId: s.userId, email: s.email, sessionId: s.sessionId };
      actor = { kind: 'user', userId: s.userId, orgId: org.id, role: membership.role, ip };
    }
    const refusal = actorRefusal(actor, permission);
    if (refusal !== null) throw new ProblemError('forbidden', refusal);
    request.actor = actor;
    request.org = org;
    return true;
  }
}

/** The session's user (behind SessionGuard, or OrgGuard with a session). */
export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext): SessionUser => {
  const user = context.switchToHttp().getRequest<TenancyRequest>().user;
  if (!user) throw new Error('CurrentUser used on a route without SessionGuard');
  return user;
});

/** The resolved actor of an organization route (behind OrgGuard). */
export const CurrentActor = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const actor = context.switchToHttp().getRequest<TenancyRequest>().actor;
  if (!actor) throw new Error('CurrentActor used on a route without OrgGuard');
  return actor;
});

/** The organization named by `:org` (behind OrgGuard). */
export const CurrentOrg = createParamDecorator((_: unknown, context: ExecutionContext): Organization => {
  const org = context.switchToHttp().getRequest<TenancyRequest>().org;
  if (!org) throw new Error('CurrentOrg used on a route without OrgGuard');
  return org;
});
