import { describe, expect, it } from '@jest/globals';
import { parseEnv } from '#infra/config';
import { apps, banner, exportLines, tenantWorkerPort } from './start.js';

describe('npm start: the apps it supervises', () => {
  const env = parseEnv({ NODE_ENV: 'development' });
  const base = { DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/stratum', REDIS_URL: 'redis://127.0.0.1:6379', API_KEY_PEPPER: 'p'.repeat(40), HOME: '/home/dev', GITHUB_TOKEN: 'ghp_x' };
  const list = apps('/repo', env, base);

  // item 3 of issue 9: one platform worker and one tenant worker, the latter without the gateway's secrets.
  it('starts a platform worker and a tenant worker whose environment holds no secret', () => {
    // AUTOSCALER_ACTUATOR=none: the autoscaler starts no worker, npm start runs one of every platform pool.
    const fixed = apps('/repo', env, { ...base, AUTOSCALER_ACTUATOR: 'none' });
    expect(fixed.map((a) => a.name)).toEqual(['gateway', 'worker-1', 'worker-tenant', 'autoscaler']);
    const platform = fixed.find((a) => a.name === 'worker-1')!;
    expect(platform.env.WORKER_POOLS ?? 'all').toBe('all');
    const tenant = list.find((a) => a.name === 'worker-tenant')!;
    expect(tenant.port).toBe(tenantWorkerPort(env));
    expect(tenant.port).toBe(3003);
    expect(tenant.env).toEqual({ DATABASE_URL: base.DATABASE_URL, REDIS_URL: base.REDIS_URL, WORKER_POOLS: 'tenant', WORKER_PORT: '3003', WORKER_ADMIN_PORT: '9467' });
    const ports = fixed.flatMap((a) => [a.port, a.adminPort]);
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('by default the platform workers are the autoscaler\'s (local actuator), which reads the gateway\'s arrivals', () => {
    expect(list.map((a) => a.name)).toEqual(['gateway', 'worker-tenant', 'autoscaler']);
    const autoscaler = list.find((a) => a.name === 'autoscaler')!;
    expect(autoscaler.env).toMatchObject({ AUTOSCALER_ACTUATOR: 'local', AUTOSCALER_SCRAPE_TARGETS: 'http://127.0.0.1:9464/metrics', API_KEY_PEPPER: base.API_KEY_PEPPER });
  });

  // item 10 of issue 10: the README quick start's variables, pasted from the banner.
  it('prints the quick start export lines from the credentials file, leaving out what it does not hold', () => {
    const keys = { live: 'sk_live_a', test: 'sk_test_b', admin: 'sk_live_c', owner: { email: 'o@x', password: 'pw' }, org: 'demo' };
    expect(exportLines('http://127.0.0.1:3000', keys)).toEqual(['export STRATUM=http://127.0.0.1:3000', 'export KEY=sk_test_b', 'export ADMIN_KEY=sk_live_c', 'export ORG=demo']);
    expect(exportLines('http://127.0.0.1:3000', undefined)).toEqual(['export STRATUM=http://127.0.0.1:3000']);
  });

  // issue 14: the dashboard's URL and the demo owner's log-in.
  it('prints the dashboard URL and the demo log-in', () => {
    const pg = { kind: 'external', url: base.DATABASE_URL, createdDatabase: false } as never;
    const redis = { kind: 'external', url: base.REDIS_URL, pid: undefined, close: async () => undefined } as never;
    const out = banner('/repo', env, list, { live: 'sk_live_a', test: 'sk_test_b', admin: undefined, owner: { email: 'owner@demo.stratum.local', password: 'pw-123' }, org: 'demo' }, pg, redis);
    expect(out).toContain('Dashboard           http://127.0.0.1:3000/dashboard/');
    expect(out).toMatch(/Demo owner log-in {3}owner@demo\.stratum\.local {2}pw-123 .*\/dashboard\/login/);
    expect(banner('/repo', env, list, undefined, pg, redis)).toContain('/dashboard/signup');
  });
});
