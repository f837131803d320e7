import { describe, expect, it } from '@jest/globals';
import { resolvePools, tenantSecretsRefusal } from './pools.js';

const PLATFORM = ['ocr', 'tiny'];

describe('resolvePools', () => {
  it('reads "all" as every platform pool, never the tenant pool', () => {
    expect(resolvePools(['all'], PLATFORM, 'tenant', false)).toEqual(['ocr', 'tiny']);
    expect(resolvePools(['all'], PLATFORM, 'tenant', true)).toEqual(['ocr', 'tiny']);
  });

  it('serves the tenant pool only when named, and alone unless mixing is allowed', () => {
    expect(resolvePools(['tenant'], PLATFORM, 'tenant', false)).toEqual(['tenant']);
    expect(() => resolvePools(['tenant', 'ocr'], PLATFORM, 'tenant', false)).toThrow(/WORKER_MIXED_POOLS=on/);
    expect(() => resolvePools(['all', 'tenant'], PLATFORM, 'tenant', false)).toThrow(/mixes the tenant pool/);
    expect(resolvePools(['all', 'tenant'], PLATFORM, 'tenant', true)).toEqual(['ocr', 'tiny', 'tenant']);
  });

  it('refuses unknown pools', () => {
    expect(() => resolvePools(['ocr', 'gpu'], PLATFORM, 'tenant', false)).toThrow(/unknown pool\(s\): gpu/);
  });
});

describe('tenantSecretsRefusal', () => {
  it('refuses a tenant worker holding a gateway secret, and only that', () => {
    expect(tenantSecretsRefusal(['tenant'], 'tenant', ['API_KEY_PEPPER'])).toMatch(/must not hold API_KEY_PEPPER/);
    expect(tenantSecretsRefusal(['tenant'], 'tenant', [])).toBeNull();
    expect(tenantSecretsRefusal(['ocr'], 'tenant', ['API_KEY_PEPPER'])).toBeNull();
  });
});
