import { Global, Injectable, Module, RequestMethod, type OnApplicationBootstrap } from '@nestjs/common';
import { GUARDS_METADATA, METHOD_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { OrgGuard, PERMISSION_KEY, SessionGuard } from './guards.js';
import { InvitationsRepository } from './invitations.repository.js';
import { MembershipsRepository } from './memberships.repository.js';
import { OrganizationsRepository } from './organizations.repository.js';
import { TEST_KEY_RULES, type Permission } from './permissions.js';

type ControllerType = { name: string; prototype: object };

/** Each route handler behind OrgGuard, with its permission (the handler's, else the class's). */
function orgRoutes(controllers: ControllerType[], reflector: Reflector, scanner: MetadataScanner): { route: string; handler: object; permission: unknown }[] {
  const routes: { route: string; handler: object; permission: unknown }[] = [];
  for (const type of controllers) {
    const classGuards = reflector.get<unknown[] | undefined>(GUARDS_METADATA, type as never) ?? [];
    const classPermission = reflector.get<unknown>(PERMISSION_KEY, type as never);
    for (const method of scanner.getAllMethodNames(type.prototype)) {
      const handler = (type.prototype as Record<string, unknown>)[method];
      if (typeof handler !== 'function') continue;
      const guards = [...classGuards, ...(reflector.get<unknown[] | undefined>(GUARDS_METADATA, handler as never) ?? [])];
      if (!guards.includes(OrgGuard)) continue;
      routes.push({ route: `${type.name}.${method}`, handler, permission: reflector.get<unknown>(PERMISSION_KEY, handler as never) ?? classPermission });
    }
  }
  return routes;
}

/** Names every route handler that is behind OrgGuard but declares no @RequirePermission. */
export function routesMissingPermission(controllers: ControllerType[], reflector: Reflector, scanner: MetadataScanner): string[] {
  return orgRoutes(controllers, reflector, scanner)
    .filter((r) => r.permission === undefined)
    .map((r) => r.route);
}

const READ_METHODS: readonly unknown[] = [RequestMethod.GET, RequestMethod.HEAD, RequestMethod.OPTIONS];

/**
 * Names every write route (not GET/HEAD/OPTIONS) behind OrgGuard whose permission test-mode
 * keys may use freely (`allowed` in TEST_KEY_RULES). Management writes must require an
 * administrative permission (never for test keys) or `keys:write` (test keys on test keys only),
 * so a new billing or webhook route inherits the test-key refusal by declaring its permission.
 */
export function writeRoutesOpenToTestKeys(controllers: ControllerType[], reflector: Reflector, scanner: MetadataScanner): string[] {
  return orgRoutes(controllers, reflector, scanner)
    .filter((r) => r.permission !== undefined && !READ_METHODS.includes(reflector.get<unknown>(METHOD_METADATA, r.handler as never)))
    .filter((r) => TEST_KEY_RULES[r.permission as Permission] === 'allowed' || !(typeof r.permission === 'string' && r.permission in TEST_KEY_RULES))
    .map((r) => `${r.route} (${String(r.permission)})`);
}

/**
 * Refuses to start an application with an organization route that declares no permission, or
 * a write route whose permission a test-mode key may use (see writeRoutesOpenToTestKeys).
 */
@Injectable()
export class PermissionAudit implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly reflector: Reflector,
    private readonly scanner: MetadataScanner,
  ) {}

  onApplicationBootstrap(): void {
    const controllers = this.discovery
      .getControllers()
      .map((w) => w.metatype)
      .filter((t): t is NonNullable<typeof t> => typeof t === 'function') as unknown as ControllerType[];
    const missing = routesMissingPermission(controllers, this.reflector, this.scanner);
    if (missing.length) throw new Error(`Routes behind OrgGuard without @RequirePermission: ${missing.join(', ')}`);
    const open = writeRoutesOpenToTestKeys(controllers, this.reflector, this.scanner);
    if (open.length) throw new Error(`Write routes behind OrgGuard whose permission test-mode keys may use (declare an administrative permission): ${open.join(', ')}`);
  }
}

/**
 * Organizations, memberships, invitations, and the guards of the management API.
 * Needs (global) DbModule, ApiKeysModule and IdentityModule.
 */
@Global()
@Module({
  imports: [DiscoveryModule],
  providers: [OrganizationsRepository, MembershipsRepository, InvitationsRepository, SessionGuard, OrgGuard, PermissionAudit],
  exports: [OrganizationsRepository, MembershipsRepository, InvitationsRepository, SessionGuard, OrgGuard],
})
export class TenancyModule {}
