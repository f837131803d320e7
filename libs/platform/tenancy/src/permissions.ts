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
  'webhooks:read',
  'webhooks:write',
  'billing:read',
  'billing:write',
  'billing:manage',
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
  developer: [...READ_ONLY, 'keys:read', 'keys:write', 'models:write', 'webhooks:read', 'webhooks:write'],
  // billing:manage (changing the plan) stays with owners and admins.
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

/**
 * What a test-mode key (`sk_test_…`) may do with a permission its scopes grant. Test mode is
 * for calling the API, not for administering the account (as in Stripe):
 * - `allowed`: reading, as the key's scopes allow;
 * - `test_keys_only`: managing keys, but only test keys (enforced per key in #platform/key-management);
 * - `never`: administering the account (organization settings, members and invitations,
 *   models, webhooks, billing), whatever the key's scopes.
 * Every permission is classified (the Record makes a new one fail to compile until it is), and
 * TenancyModule refuses to start when a write route requires an `allowed` permission, so a
 * future management write cannot silently become open to test keys.
 */
export type TestModeRule = 'allowed' | 'test_keys_only' | 'never';
export const TEST_KEY_RULES: Readonly<Record<Permission, TestModeRule>> = {
  'org:read': 'allowed',
  'org:write': 'never',
  'members:read': 'allowed',
  'members:write': 'never',
  'keys:read': 'allowed',
  'keys:write': 'test_keys_only',
  'models:write': 'never',
  'webhooks:read': 'allowed',
  'webhooks:write': 'never',
  'billing:read': 'allowed',
  'billing:write': 'never',
  'billing:manage': 'never',
  'usage:read': 'allowed',
  'audit:read': 'allowed',
};

/** The administrative permissions: never exercised by a test-mode key. */
export const ADMINISTRATIVE_PERMISSIONS: readonly Permission[] = PERMISSIONS.filter((p) => TEST_KEY_RULES[p] === 'never');

/** Whether a test-mode key may exercise `permission` at all (its scopes decide the rest). */
export function testKeyMay(permission: Permission): boolean {
  return TEST_KEY_RULES[permission] !== 'never';
}

export function isRole(value: unknown): value is RoleName {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleAllows(role: RoleName, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

export function scopesAllow(scopes: readonly string[], permission: Permission): boolean {
  return scopes.some((s) => isScope(s) && SCOPE_PERMISSIONS[s].includes(permission));
}
