import { describe, expect, it } from '@jest/globals';
import { ConfigError, displayValue, parseEnv } from './load.js';

describe('parseEnv', () => {
  it('gives a working local configuration with only NODE_ENV=development', () => {
    const env = parseEnv({ NODE_ENV: 'development' });
    expect(env.DATABASE_URL).toBe('postgresql://postgres@127.0.0.1:5432/stratum');
    expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(env.GATEWAY_PORT).toBe(3000);
    expect(env.WORKER_POOLS).toEqual(['all']);
    expect(env.ORT_EXECUTION_PROVIDERS).toEqual(['cpu']);
  });

  it('coerces and splits values', () => {
    const env = parseEnv({ NODE_ENV: 'test', GATEWAY_PORT: '8080', WORKER_POOLS: 'ocr, tiny', ORT_EXECUTION_PROVIDERS: 'cuda,cpu' });
    expect(env.GATEWAY_PORT).toBe(8080);
    expect(env.WORKER_POOLS).toEqual(['ocr', 'tiny']);
    expect(env.ORT_EXECUTION_PROVIDERS).toEqual(['cuda', 'cpu']);
  });

  it('reads TRUST_PROXY as none, all, a hop count or a list of proxies, and refuses anything else', () => {
    expect(parseEnv({ NODE_ENV: 'test' }).TRUST_PROXY).toBe(false);
    expect(parseEnv({ NODE_ENV: 'test', TRUST_PROXY: 'true' }).TRUST_PROXY).toBe(true);
    expect(parseEnv({ NODE_ENV: 'test', TRUST_PROXY: '2' }).TRUST_PROXY).toBe(2);
    expect(parseEnv({ NODE_ENV: 'test', TRUST_PROXY: '10.0.0.0/8, 127.0.0.1' }).TRUST_PROXY).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(() => parseEnv({ NODE_ENV: 'test', TRUST_PROXY: 'yes please' })).toThrow(/TRUST_PROXY/);
  });

  it('treats empty strings as unset', () => {
    expect(parseEnv({ NODE_ENV: 'test', GATEWAY_PORT: '' }).GATEWAY_PORT).toBe(3000);
  });

  it('names every invalid variable at once', () => {
    let error: unknown;
    try {
      parseEnv({ NODE_ENV: 'test', GATEWAY_PORT: 'eighty', REDIS_URL: 'http://nope', ORT_EXECUTION_PROVIDERS: 'quantum' });
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

  // item 10: the built-in pepper is public, so it needs NODE_ENV=development (or test) set explicitly.
  it('refuses the development pepper when NODE_ENV is not set explicitly, also when the built-in value is given', () => {
    expect(() => parseEnv({})).toThrow(/API_KEY_PEPPER: must be set to a secret of your own/);
    expect(() => parseEnv({ API_KEY_PEPPER: 'stratum-dev-pepper-do-not-use-in-production-0000' })).toThrow(/API_KEY_PEPPER/);
    expect(() => parseEnv({ NODE_ENV: 'production', API_KEY_PEPPER: 'stratum-dev-pepper-do-not-use-in-production-0000' })).toThrow(/API_KEY_PEPPER/);
    expect(parseEnv({ NODE_ENV: 'development' }).API_KEY_PEPPER).toBe('stratum-dev-pepper-do-not-use-in-production-0000');
    expect(parseEnv({ NODE_ENV: 'test' }).NODE_ENV).toBe('test');
    expect(parseEnv({ API_KEY_PEPPER: 'y'.repeat(32) }).NODE_ENV).toBe('development');
  });

  // item 10: configuration errors do not echo secrets.
  it('never echoes secret values or URL passwords in its errors, but still names the variable', () => {
    let error: unknown;
    try {
      parseEnv({
        NODE_ENV: 'production',
        API_KEY_PEPPER: 'short-secret-pepper',
        REDIS_PASSWORD: '',
        REDIS_URL: 'http://ops:hunter2-redis@cache.internal:6379',
        DATABASE_URL: 'mysql://app:pg-pass-123@db.internal/stratum',
        GATEWAY_PORT: 'eighty',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as ConfigError).message;
    for (const secret of ['short-secret-pepper', 'hunter2-redis', 'pg-pass-123']) expect(text).not.toContain(secret);
    expect(text).toContain('API_KEY_PEPPER: at least 32 characters (got (redacted))');
    expect(text).toContain('"http://ops:***@cache.internal:6379"');
    expect(text).toContain('"mysql://app:***@db.internal/stratum"');
    expect(text).toContain('GATEWAY_PORT');
    expect(text).toContain('"eighty"');
    expect(displayValue('REDIS_PASSWORD', 'p@ss')).toBe('(redacted)');
    expect(displayValue('SOME_TOKEN', 'abc')).toBe('(redacted)');
    expect(displayValue('REDIS_URL', 'redis://:only-pass@h')).toBe('"redis://:***@h"');
    expect(displayValue('REDIS_URL', 'not a url user:pw@x')).toBe('"not a url user:pw@x"');
  });

  it('reads the Redis credentials, the CA file and the absolute session lifetime', () => {
    const env = parseEnv({ NODE_ENV: 'test', REDIS_URL: 'rediss://cache:6380', REDIS_USERNAME: 'stratum', REDIS_PASSWORD: 'pw', REDIS_TLS_CA_FILE: '/etc/ca.pem', SESSION_ABSOLUTE_TTL_SECONDS: '3600' });
    expect([env.REDIS_URL, env.REDIS_USERNAME, env.REDIS_PASSWORD, env.REDIS_TLS_CA_FILE, env.SESSION_ABSOLUTE_TTL_SECONDS]).toEqual(['rediss://cache:6380', 'stratum', 'pw', '/etc/ca.pem', 3600]);
    expect(parseEnv({ NODE_ENV: 'test' }).SESSION_ABSOLUTE_TTL_SECONDS).toBe(30 * 24 * 3600);
    expect(() => parseEnv({ NODE_ENV: 'test', REDIS_URL: 'redis://cache:6379', REDIS_TLS_CA_FILE: '/etc/ca.pem' })).toThrow(/REDIS_TLS_CA_FILE: needs a rediss:\/\/ REDIS_URL/);
  });
});
