import { describe, expect, it } from '@jest/globals';
import { parseEnv } from '#infra/config';
import { apps, tenantWorkerPort } from './start.js';

describe('npm start: the apps it supervises', () => {
  const env = parseEnv({ NODE_ENV: 'development' });
  const base = { DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/stratum', REDIS_URL: 'redis://127.0.0.1:6379', API_KEY_PEPPER: 'p'.repeat(40), HOME: '/home/dev', GITHUB_TOKEN: 'ghp_x' };
  const list = apps('/repo', env, base);

  // item 3 of issue 9: one platform worker and one tenant worker, the latter without the gateway's secrets.
  it('starts a platform worker and a tenant worker whose environment holds no secret', () => {
    expect(list.map((a) => a.name)).toEqual(['gateway', 'worker-1', 'worker-tenant', 'autoscaler']);
    const platform = list.find((a) => a.name === 'worker-1')!;
    expect(platform.env.WORKER_POOLS ?? 'all').toBe('all');
    const tenant = list.find((a) => a.name === 'worker-tenant')!;
    expect(tenant.port).toBe(tenantWorkerPort(env));
    expect(tenant.port).toBe(3003);
    expect(tenant.env).toEqual({ DATABASE_URL: base.DATABASE_URL, REDIS_URL: base.REDIS_URL, WORKER_POOLS: 'tenant', WORKER_PORT: '3003', WORKER_ADMIN_PORT: '9467' });
    const ports = list.flatMap((a) => [a.port, a.adminPort]);
    expect(new Set(ports).size).toBe(ports.length);
  });
});
