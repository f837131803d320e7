import { isScope, type ApiKeyScope } from '#platform/api-keys';

/**
 * The one permission matrix of Stratum's management API: which membership roles and
 * which API-key scopes grant which permission. Pure data and functions (no Nest).
 */
export const ROLES = ['owner', 'admin', 'developer', 'billing', 'viewer'] as const;
export type RoleName = (typeof ROLES)[number];

export const PERMISSIONS = [
  'org:read',
  'org:write',
  'members:read',
  'members:write',
  'keys:read',
  'keys:write',
  'models:write',
  'webhooks:write',
  'billing:read',
  'billing:write',
  'usage:read',
  'audit:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const ALL: readonly Permission[] = PERMISSIONS;
const READ_ONLY: readonly Permission[] = ['org:read', 'members:read', 'usage:read'];

/** Role → permissions. Owners may do everything; only owners may grant or remove the owner role. */
export const ROLE_PERMISSIONS: Readonly<Record<RoleName, readonly Permission[]>> = {
  owner: ALL,
  admin: ALL,
  developer: [...READ_ONLY, 'keys:read', 'keys:write', 'models:write', 'webhooks:write'],
  billing: [...READ_ONLY, 'billing:read', 'billing:write'],
  viewer: READ_ONLY,
};

/**
 * API-key scope → management permissions. `predict` grants none (it is for the
 * prediction routes only); `admin` grants what the admin role grants.
 */
export const SCOPE_PERMISSIONS: Readonly<Record<ApiKeyScope, readonly Permission[]>> = {
  predict: [],
  'usage:read': ['org:read', 'usage:read'],
  'keys:write': ['org:read', 'keys:read', 'keys:write'],
  admin: ROLE_PERMISSIONS.admin,
};

export function isRole(value: unknown): value is RoleName {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleAllows(role: RoleName, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export function scopesAllow(scopes: readonly string[], permission: Permission): boolean {
  return scopes.some((s) => isScope(s) && SCOPE_PERMISSIONS[s].includes(permission));
}
