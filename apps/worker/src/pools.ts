/**
 * Which pools a worker consumes, and what a worker of the tenant pool (uploaded models) may
 * hold. Pure; the worker's start-up and its spec use it.
 */

/**
 * `requested` is WORKER_POOLS: "all" means every platform pool and never `tenant`, which
 * runs only in workers started for it (named explicitly). A worker of the tenant pool takes no
 * platform pool unless `allowMixed` (WORKER_MIXED_POOLS=on). An unknown pool refuses start-up.
 */
export function resolvePools(requested: readonly string[], platformPools: readonly string[], tenantPool: string, allowMixed: boolean): string[] {
  const known = [...platformPools, tenantPool];
  const unknown = requested.filter((p) => p !== 'all' && !known.includes(p));
  if (unknown.length) throw new Error(`WORKER_POOLS names unknown pool(s): ${unknown.join(', ')} (known: all, ${known.join(', ')})`);
  const pools = new Set<string>();
  for (const p of requested) {
    if (p === 'all') for (const q of platformPools) pools.add(q);
    else pools.add(p);
  }
  const list = [...pools];
  if (list.includes(tenantPool) && list.length > 1 && !allowMixed) {
    throw new Error(
      `WORKER_POOLS mixes the ${tenantPool} pool (tenants' uploaded models) with platform pools (${list.filter((p) => p !== tenantPool).join(', ')}); ` +
        `run uploaded models in workers of their own (WORKER_POOLS=${tenantPool}), or set WORKER_MIXED_POOLS=on`,
    );
  }
  return list;
}

/** Start-up refusal of a tenant worker holding the gateway's secrets (null: fine). */
export function tenantSecretsRefusal(pools: readonly string[], tenantPool: string, secrets: readonly string[]): string | null {
  if (!pools.includes(tenantPool) || secrets.length === 0) return null;
  return `a worker of the ${tenantPool} pool runs tenants' models and must not hold ${secrets.join(', ')}: unset ${secrets.length > 1 ? 'them' : 'it'} in this worker's environment (only the gateway needs ${secrets.length > 1 ? 'them' : 'it'})`;
}
