import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseEnv } from './load.js';

describe('parseEnv', () => {
  it('gives a working local configuration with no variables at all', () => {
    const env = parseEnv({});
    expect(env.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/stratum');
    expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(env.GATEWAY_PORT).toBe(3000);
    expect(env.WORKER_POOLS).toEqual(['all']);
    expect(env.ORT_EXECUTION_PROVIDERS).toEqual(['cpu']);
  });

  it('coerces and splits values', () => {
    const env = parseEnv({ GATEWAY_PORT: '8080', WORKER_POOLS: 'ocr, tiny', ORT_EXECUTION_PROVIDERS: 'cuda,cpu' });
    expect(env.GATEWAY_PORT).toBe(8080);
    expect(env.WORKER_POOLS).toEqual(['ocr', 'tiny']);
    expect(env.ORT_EXECUTION_PROVIDERS).toEqual(['cuda', 'cpu']);
  });

  it('reads TRUST_PROXY as none, all, a hop count or a list of proxies, and refuses anything else', () => {
    expect(parseEnv({}).TRUST_PROXY).toBe(false);
    expect(parseEnv({ TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(parseEnv({ TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(parseEnv({ TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(() => parseEnv({ TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ GATEWAY_PORT: '' }).GATEWAY_PORT).toBe(3000);
  });

  it('names every invalid variable at once', () => {
    let error: unknown;
    try {
      parseEnv({ GATEWAY_PORT: 'eighty', REDIS_URL: 'http://nope', ORT_EXECUTION_PROVIDERS: 'quantum' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).message;
    expect(text).toContain('GATEWAY_PORT');
    expect(text).toContain('REDIS_URL');
    expect(text).toContain('ORT_EXECUTION_PROVIDERS');
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it('refuses the development pepper in production', () => {
    expect(() => parseEnv({ NODE_ENV: 'production' })).toThrow(/API_KEY_PEPPER/);
    expect(parseEnv({ NODE_ENV: 'production', API_KEY_PEPPER: 'x'.repeat(40) }).NODE_ENV).toBe('production');
  });
});
