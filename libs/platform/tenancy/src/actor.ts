import { roleAllows, scopesAllow, testKeyMay, type Permission, type RoleName } from './permissions.js';

/** Who performs a management action, and in which organization. */
export type Actor =
  | { kind: 'user'; userId: string; orgId: string; role: RoleName; ip: string | null }
  | { kind: 'api_key'; keyId: string; orgId: string; scopes: readonly string[]; mode: 'live' | 'test'; ip: string | null };

export function actorAllows(actor: Actor, permission: Permission): boolean {
  return actorRefusal(actor, permission) === null;
}

/**
 * Why `actor` may not exercise `permission` (the `detail` of the 403), or null when it may.
 * A test-mode key is refused every administrative permission whatever its scopes; session
 * users are judged by their role only.
 */
export function actorRefusal(actor: Actor, permission: Permission): string | null {
  if (actor.kind === 'user') return roleAllows(actor.role, permission) ? null : `This role lacks the "${permission}" permission.`;
  if (actor.mode === 'test' && !testKeyMay(permission)) {
    return `Test-mode API keys cannot administer the organization ("${permission}"): test keys are for calling the API. Use a live key or the dashboard.`;
  }
  return scopesAllow(actor.scopes, permission) ? null : `This API key lacks the "${permission}" permission.`;
}

/** The id recorded in the audit log for this actor. */
export function actorId(actor: Actor): string {
  return actor.kind === 'user' ? actor.userId : actor.keyId;
}
