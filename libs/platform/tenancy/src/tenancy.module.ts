import { Global, Injectable, Module, type OnApplicationBootstrap } from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { OrgGuard, PERMISSION_KEY, SessionGuard } from './guards.js';
import { InvitationsRepository } from './invitations.repository.js';
import { MembershipsRepository } from './memberships.repository.js';
import { OrganizationsRepository } from './organizations.repository.js';

/** Names every route handler that is behind OrgGuard but declares no @RequirePermission. */
export function routesMissingPermission(controllers: { name: string; prototype: object }[], reflector: Reflector, scanner: MetadataScanner): string[] {
  const missing: string[] = [];
  for (const type of controllers) {
    const classGuards = reflector.get<unknown[] | undefined>(GUARDS_METADATA, type as never) ?? [];
    const classPermission = reflector.get<unknown>(PERMISSION_KEY, type as never);
    for (const method of scanner.getAllMethodNames(type.prototype)) {
      const handler = (type.prototype as Record<string, unknown>)[method];
      if (typeof handler !== 'function') continue;
      const guards = [...classGuards, ...(reflector.get<unknown[] | undefined>(GUARDS_METADATA, handler as never) ?? [])];
      if (!guards.includes(OrgGuard)) continue;
      if (reflector.get<unknown>(PERMISSION_KEY, handler as never) === undefined && classPermission === undefined) missing.push(`${type.name}.${method}`);
    }
  }
  return missing;
}

/** Refuses to start an application with an organization route that declares no permission. */
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
      .filter((t): t is NonNullable<typeof t> => typeof t === 'function') as unknown as { name: string; prototype: object }[];
    const missing = routesMissingPermission(controllers, this.reflector, this.scanner);
    if (missing.length) throw new Error(`Routes behind OrgGuard without @RequirePermission: ${missing.join(', ')}`);
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
