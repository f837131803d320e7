import { ProblemError } from '#infra/errors';
import type { Actor } from '#platform/tenancy';
import type { KeyMode } from '#platform/api-keys';

/**
 * No privilege escalation through keys. Owners, admins and `admin`-scoped keys may grant
 * any scope; other members (developers) any scope but `admin`; any other key only the
 * scopes it holds itself, and only in its own mode (a test key never mints live keys).
 * The same rule guards update, roll and revocation of an existing key (a roll hands out a new
 * secret with the key's scopes; a revocation can cut off a key the actor could never have
 * made): an actor may only touch keys whose scopes it could grant, in a mode it may manage.
 * The mode rule comes first, so a test key is told plainly that test keys cannot touch live keys.
 */
export function grantableProblem(actor: Actor, scopes: readonly string[], mode: KeyMode): ProblemError | null {
  if (actor.kind === 'user') {
    if (actor.role === 'owner' || actor.role === 'admin') return null;
    return scopes.includes('admin') ? new ProblemError('forbidden', 'Only owners and admins may grant or manage the "admin" scope.') : null;
  }
  if (actor.mode === 'test' && mode === 'live') return liveFromTest();
  if (actor.scopes.includes('admin')) return null;
  const missing = scopes.filter((s) => !actor.scopes.includes(s));
  if (missing.length) return new ProblemError('forbidden', `This API key cannot grant scopes it does not hold: ${missing.join(', ')}.`);
  return null;
}

function liveFromTest(): ProblemError {
  return new ProblemError('forbidden', 'Test-mode API keys cannot create, change, roll or revoke live keys.');
}

export function assertGrantable(actor: Actor, scopes: readonly string[], mode: KeyMode): void {
  const problem = grantableProblem(actor, scopes, mode);
  if (problem) throw problem;
}
