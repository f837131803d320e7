import { describe, expect, it } from '@jest/globals';
import type { Actor } from '#platform/tenancy';
import { parseCreateApiKey, parseRollApiKey, parseUpdateApiKey } from './api-key-input.js';
import { apiKeyStatus } from './api-key-view.js';
import { grantableProblem } from './grants.js';

const user = (role: 'owner' | 'admin' | 'developer'): Actor => ({ kind: 'user', userId: 'u', orgId: 'o', role, ip: null });
const key = (scopes: string[], mode: 'live' | 'test' = 'live'): Actor => ({ kind: 'api_key', keyId: 'k', orgId: 'o', scopes, mode, ip: null });

describe('grants (no privilege escalation)', () => {
  it('lets owners and admins grant anything, developers anything but admin', () => {
    expect(grantableProblem(user('owner'), ['admin', 'predict'], 'live')).toBeNull();
    expect(grantableProblem(user('admin'), ['admin'], 'live')).toBeNull();
    expect(grantableProblem(user('developer'), ['predict', 'usage:read', 'keys:write'], 'live')).toBeNull();
    expect(grantableProblem(user('developer'), ['admin'], 'test')?.code).toBe('forbidden');
  });

  it('lets a key grant only the scopes it holds, and an admin key anything', () => {
    expect(grantableProblem(key(['keys:write']), ['keys:write'], 'live')).toBeNull();
    expect(grantableProblem(key(['keys:write']), ['predict'], 'live')?.detail).toContain('predict');
    expect(grantableProblem(key(['keys:write', 'predict']), ['predict'], 'live')).toBeNull();
    expect(grantableProblem(key(['keys:write', 'predict']), ['admin'], 'live')?.code).toBe('forbidden');
    expect(grantableProblem(key(['admin']), ['admin', 'predict', 'usage:read'], 'live')).toBeNull();
  });

  it('never lets a test key mint or manage live keys', () => {
    expect(grantableProblem(key(['keys:write'], 'test'), ['keys:write'], 'test')).toBeNull();
    expect(grantableProblem(key(['keys:write'], 'test'), ['keys:write'], 'live')?.code).toBe('forbidden');
    expect(grantableProblem(key(['admin'], 'test'), ['predict'], 'live')?.code).toBe('forbidden');
    // The mode rule speaks first, whatever the scopes (revoking a live admin key with a test keys:write key).
    expect(grantableProblem(key(['keys:write'], 'test'), ['admin'], 'live')?.detail).toMatch(/^Test-mode API keys cannot .*live keys/);
    expect(grantableProblem(key(['admin'], 'test'), ['admin'], 'live')?.detail).toMatch(/^Test-mode API keys cannot/);
  });
});

describe('API-key bodies', () => {
  const now = () => Date.parse('2026-01-01T00:00:00Z');

  it('applies defaults on create', () => {
    expect(parseCreateApiKey({ name: ' ci ' }, now)).toEqual({ name: 'ci', mode: 'live', scopes: ['predict'], expiresAt: null, rateLimitPerMinute: null });
    expect(parseCreateApiKey({ name: 'x', mode: 'test', scopes: ['usage:read'], expires_at: '2026-02-01T00:00:00Z', rate_limit_per_minute: 5 }, now)).toEqual({
      name: 'x',
      mode: 'test',
      scopes: ['usage:read'],
      expiresAt: new Date('2026-02-01T00:00:00Z'),
      rateLimitPerMinute: 5,
    });
  });

  it('refuses unknown fields, bad scopes, past expiry and bad limits with every path named', () => {
    let caught: unknown;
    try {
      parseCreateApiKey({ name: '', scopes: ['predict', 'root'], expires_at: '2025-01-01T00:00:00Z', rate_limit_per_minute: 0, colour: 'red' }, now);
    } catch (e) {
      caught = e;
    }
    const problem = caught as { status: number; code: string; extensions: { errors: { path: string }[] } };
    expect(problem.status).toBe(422);
    expect(problem.code).toBe('validation_failed');
    expect(problem.extensions.errors.map((e) => e.path).sort()).toEqual(['/colour', '/expires_at', '/name', '/rate_limit_per_minute', '/scopes/1']);
    expect(() => parseCreateApiKey({ name: 'x', scopes: ['predict', 'predict'] }, now)).toThrow('failed validation');
    expect(() => parseCreateApiKey({ name: 'x', scopes: [] }, now)).toThrow('failed validation');
    expect(() => parseCreateApiKey([], now)).toThrow('must be a JSON object');
  });

  it('parses updates (null clears) and refuses an empty one', () => {
    expect(parseUpdateApiKey({ expires_at: null, rate_limit_per_minute: null }, now)).toEqual({ expiresAt: null, rateLimitPerMinute: null });
    expect(parseUpdateApiKey({ scopes: ['admin'] }, now)).toEqual({ scopes: ['admin'] });
    expect(() => parseUpdateApiKey({}, now)).toThrow('Nothing to update');
    expect(() => parseUpdateApiKey({ mode: 'test' }, now)).toThrow('failed validation');
  });

  it('bounds the roll grace period to 0..7 days, default one day', () => {
    expect(parseRollApiKey(undefined)).toEqual({ graceSeconds: 86_400 });
    expect(parseRollApiKey({})).toEqual({ graceSeconds: 86_400 });
    expect(parseRollApiKey({ grace_period_seconds: 0 })).toEqual({ graceSeconds: 0 });
    expect(parseRollApiKey({ grace_period_seconds: 604_800 })).toEqual({ graceSeconds: 604_800 });
    expect(() => parseRollApiKey({ grace_period_seconds: 604_801 })).toThrow('failed validation');
    expect(() => parseRollApiKey({ grace_period_seconds: 1.5 })).toThrow('failed validation');
  });

  it('derives the status: revoked, then expired, then rolled, else active', () => {
    const t = 1_000_000;
    const base = { revokedAt: null, expiresAt: null, rolledToId: null };
    expect(apiKeyStatus(base, t)).toBe('active');
    expect(apiKeyStatus({ ...base, rolledToId: 'n', expiresAt: new Date(t + 1) }, t)).toBe('rolled');
    expect(apiKeyStatus({ ...base, rolledToId: 'n', expiresAt: new Date(t) }, t)).toBe('expired');
    expect(apiKeyStatus({ ...base, revokedAt: new Date(0), expiresAt: new Date(0) }, t)).toBe('revoked');
  });
});
