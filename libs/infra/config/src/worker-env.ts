/**
 * What a worker started for the tenant pool (uploaded models) may hold in its environment.
 * Pure: the start script builds the tenant worker's environment with it, the worker refuses
 * to start with a secret it does not need, and tests check both.
 */
import { randomBytes } from 'node:crypto';
import { ENV_VARIABLES } from './schema.js';

/**
 * Secrets only the gateway (and scripts that mint keys) need. A tenant worker refuses to start
 * with any of them set. Add a variable here when it is a secret no worker reads.
 */
export const GATEWAY_SECRETS: readonly string[] = ['API_KEY_PEPPER'];

/** Outside Stratum's own variables, what a tenant worker keeps from its parent's environment. */
const KEPT = ['PATH', 'TZ', 'LANG', 'LC_ALL', 'NO_COLOR', 'NODE_ENV'];

/** The gateway's secrets set (non-empty) in `source`. */
export function secretsIn(source: Readonly<Record<string, string | undefined>>): string[] {
  return GATEWAY_SECRETS.filter((name) => (source[name] ?? '') !== '');
}

/**
 * The environment of a tenant worker: Stratum's own variables (ENV_VARIABLES) and PATH/locale
 * from `source`, without the gateway's secrets, then `overrides`. Everything else the parent
 * holds (cloud credentials, tokens, NODE_OPTIONS, …) stays behind. It keeps DATABASE_URL
 * and REDIS_URL: the worker records the prediction's lifecycle and takes jobs from the queue.
 */
export function tenantWorkerEnv(source: Readonly<Record<string, string | undefined>>, overrides: Readonly<Record<string, string>> = {}): Record<string, string> {
  const allowed = new Set<string>([...ENV_VARIABLES, ...KEPT]);
  for (const s of GATEWAY_SECRETS) allowed.delete(s);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (v !== undefined && allowed.has(k)) out[k] = v;
  for (const [k, v] of Object.entries(overrides)) if (!GATEWAY_SECRETS.includes(k)) out[k] = v;
  return out;
}

/** The pool of uploaded models (as named in WORKER_POOLS; the registry's TENANT_POOL). */
const TENANT_POOL_NAME = 'tenant';

/** One unguessable value per process, for the secrets a tenant worker does not hold. */
const THROWAWAY = randomBytes(32).toString('hex');

/**
 * A worker started for the tenant pool alone holds none of the gateway's secrets, yet the
 * configuration has a value for each (production refuses the development pepper): each
 * unset one gets a random throwaway value, never used by a worker and useless anywhere else
 * (a process misconfigured this way fails closed: no key verifies).
 */
export function withThrowawaySecrets(source: Readonly<Record<string, string | undefined>>): Readonly<Record<string, string | undefined>> {
  const pools = (source.WORKER_POOLS ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (pools.length === 0 || pools.some((p) => p !== TENANT_POOL_NAME)) return source;
  const out: Record<string, string | undefined> = { ...source };
  for (const name of GATEWAY_SECRETS) if ((out[name] ?? '') === '') out[name] = THROWAWAY;
  return out;
}
