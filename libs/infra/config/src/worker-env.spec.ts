import { describe, expect, it } from '@jest/globals';
import { parseEnv } from './load.js';
import { GATEWAY_SECRETS, secretsIn, tenantWorkerEnv, withThrowawaySecrets } from './worker-env.js';

describe('tenantWorkerEnv', () => {
  const parent = {
    DATABASE_URL: 'postgresql://u:p@db/stratum',
    REDIS_URL: 'redis://r:6379',
    API_KEY_PEPPER: 'x'.repeat(40),
    WORKER_POOLS: 'all',
    PATH: '/usr/bin',
    AWS_SECRET_ACCESS_KEY: 'cloud',
    NODE_OPTIONS: '--require /tmp/evil.js',
    HOME: '/root',
  };

  it("keeps Stratum's variables and PATH, drops the gateway's secrets and everything else", () => {
    expect(tenantWorkerEnv(parent, { WORKER_POOLS: 'tenant', WORKER_PORT: '3003' })).toEqual({
      DATABASE_URL: 'postgresql://u:p@db/stratum',
      REDIS_URL: 'redis://r:6379',
      WORKER_POOLS: 'tenant',
      WORKER_PORT: '3003',
      PATH: '/usr/bin',
    });
  });

  it('never lets an override put a secret back', () => {
    expect(tenantWorkerEnv({}, { API_KEY_PEPPER: 'y'.repeat(40) })).toEqual({});
  });

  it('names the secrets set in an environment (empty means unset)', () => {
    expect(GATEWAY_SECRETS).toContain('API_KEY_PEPPER');
    expect(secretsIn(parent)).toEqual(['API_KEY_PEPPER']);
    expect(secretsIn({ API_KEY_PEPPER: '' })).toEqual([]);
  });
});

describe('withThrowawaySecrets', () => {
  it('lets a production tenant worker start without the pepper, with a random one it never uses', () => {
    expect(() => parseEnv({ NODE_ENV: 'production', WORKER_POOLS: 'tenant' })).toThrow(/API_KEY_PEPPER/);
    const env = parseEnv(withThrowawaySecrets({ NODE_ENV: 'production', WORKER_POOLS: 'tenant' }));
    expect(env.API_KEY_PEPPER).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes nothing for any other process', () => {
    const source = { NODE_ENV: 'production', WORKER_POOLS: 'tenant,ocr' };
    expect(withThrowawaySecrets(source)).toBe(source);
    expect(withThrowawaySecrets({ NODE_ENV: 'production' })).toEqual({ NODE_ENV: 'production' });
    expect(withThrowawaySecrets({ WORKER_POOLS: 'tenant', API_KEY_PEPPER: 'z'.repeat(40) }).API_KEY_PEPPER).toBe('z'.repeat(40));
  });
});

describe('the limits of uploaded models (config)', () => {
  it('defaults to a 10 s deadline and 2 GiB of address space, tenant pool never in "all", no mixing', () => {
    expect(parseEnv({ NODE_ENV: 'test' })).toMatchObject({ TENANT_RUN_DEADLINE_MS: 10_000, TENANT_MODEL_MEMORY_MB: 2048, WORKER_MIXED_POOLS: 'off', WORKER_POOLS: ['all'] });
  });

  it('refuses a deadline under 100 ms and less address space than Node.js and onnxruntime need to start', () => {
    expect(() => parseEnv({ NODE_ENV: 'test', TENANT_RUN_DEADLINE_MS: '50' })).toThrow(/TENANT_RUN_DEADLINE_MS/);
    expect(() => parseEnv({ NODE_ENV: 'test', TENANT_MODEL_MEMORY_MB: '1024' })).toThrow(/TENANT_MODEL_MEMORY_MB/);
    expect(() => parseEnv({ NODE_ENV: 'test', WORKER_MIXED_POOLS: 'yes' })).toThrow(/WORKER_MIXED_POOLS/);
  });
});
