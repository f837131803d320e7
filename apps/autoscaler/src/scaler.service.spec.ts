import { describe, expect, it } from '@jest/globals';
import { parseEnv } from '#infra/config';
import { assertPolicy } from '#infra/scaling';
import { managedPools, policyOf } from './scaler.service.js';

describe('managedPools', () => {
  const known = ['ocr', 'vision', 'tenant'];
  it('"all" is every pool but the tenant pool; named pools as given', () => {
    expect(managedPools(['all'], known, 'tenant')).toEqual(['ocr', 'vision']);
    expect(managedPools(['ocr'], known, 'tenant')).toEqual(['ocr']);
    expect(managedPools(['tenant', 'all'], known, 'tenant')).toEqual(['tenant', 'ocr', 'vision']);
  });
  it('refuses an unknown pool', () => {
    expect(() => managedPools(['ocr', 'nope'], known, 'tenant')).toThrow(/unknown pool\(s\): nope/);
  });
});

describe('policyOf', () => {
  it('maps the configuration onto a valid policy (defaults: HPA-like tolerance, 60 s down window, scale-to-zero off)', () => {
    const p = policyOf(parseEnv({ NODE_ENV: 'test' }));
    expect(() => assertPolicy(p)).not.toThrow();
    expect(p).toMatchObject({ minWorkers: 1, maxWorkers: 4, waitSloSeconds: 2, tolerance: 0.1, upWindowMs: 0, downWindowMs: 60_000, slotsPerWorker: 4 });
    expect(policyOf(parseEnv({ NODE_ENV: 'test', AUTOSCALER_MIN_WORKERS: '0', AUTOSCALER_IDLE_MS: '5000' }))).toMatchObject({ minWorkers: 0, idleMs: 5000 });
  });
});
