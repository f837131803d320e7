import { roleAllows, scopesAllow, type Permission, type RoleName } from './permissions.js';

/** Who performs a management action, and in which organization. */
export type Actor =
  | { kind: 'user'; userId: string; orgId: string; role: RoleName; ip: string | null }
  | { kind: 'api_key'; keyId: string; orgId: string; scopes: readonly string[]; mode: 'live' | 'test'; ip: string | null };

export function actorAllows(actor: Actor, permission: Permission): boolean {
  return actor.kind === 'user' ? roleAllows(actor.role, permission) : scopesAllow(actor.scopes, permission);
}

/** The id recorded in the audit log for this actor. */
export function actorId(actor: Actor): string {
  return actor.kind === 'user' ? actor.userId : actor.keyId;
}
