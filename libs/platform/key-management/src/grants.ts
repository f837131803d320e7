import { ProblemError } from '#infra/errors';
import type { Actor } from '#platform/tenancy';
import type { KeyMode } from '#platform/api-keys';

/**
 * No privilege escalation through keys. Owners, admins and `admin`-scoped keys may grant
 * any scope; other members (developers) any scope but `admin`; any other key only the
 * scopes it holds itself, and only in its own mode (a test key never mints live keys).
 * The same rule guards update and roll of an existing key (a roll hands out a new secret
 * with the key's scopes): an actor may only change keys whose scopes it could grant.
 * Revocation only takes power away, so `keys:write` suffices for it.
 */
export function grantableProblem(actor: Actor, scopes: readonly string[], mode: KeyMode): ProblemError | null {
  if (actor.kind === 'user') {
    if (actor.role === 'owner' || actor.role === 'admin') return null;
    return scopes.includes('admin') ? new ProblemError('forbidden', 'Only owners and admins may grant or manage the "admin" scope.') : null;
  }
  if (actor.scopes.includes('admin')) return actor.mode === 'test' && mode === 'live' ? liveFromTest() : null;
  const missing = scopes.filter((s) => !actor.scopes.includes(s));
  if (missing.length) return new ProblemError('forbidden', `This API key cannot grant scopes it does not hold: ${missing.join(', ')}.`);
  return actor.mode === 'test' && mode === 'live' ? liveFromTest() : null;
}

function liveFromTest(): ProblemError {
  return new ProblemError('forbidden', 'A test-mode key cannot create or manage live keys.');
}

export function assertGrantable(actor: Actor, scopes: readonly string[], mode: KeyMode): void {
  const problem = grantableProblem(actor, scopes, mode);
  if (problem) throw problem;
}
