import { describe, expect, it } from '@jest/globals';
import { parseEnv as parse } from './load.js';

/** A development environment plus the variables under test. */
const parseEnv = (vars: Record<string, string>) => parse({ NODE_ENV: 'development', ...vars });

describe('webhook settings', () => {
  it('defaults to https only, no private networks, and the documented schedule', () => {
    const env = parseEnv({});
    expect({ http: env.WEBHOOK_ALLOW_HTTP, cidrs: env.WEBHOOK_ALLOWED_CIDRS, schedule: env.WEBHOOK_RETRY_SCHEDULE }).toEqual({ http: false, cidrs: [], schedule: '5s,5m,30m,2h,5h,10h,10h' });
  });

  it('reads allowed CIDRs and refuses what is not one, at start', () => {
    expect(parseEnv({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8, ::1/128,10.1.2.3' }).WEBHOOK_ALLOWED_CIDRS).toEqual(['127.0.0.0/8', '::1/128', '10.1.2.3']);
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.0/8/1', '10.0.0.0/x']) expect(() => parseEnv({ WEBHOOK_ALLOWED_CIDRS: bad })).toThrow(/WEBHOOK_ALLOWED_CIDRS/);
  });

  it('refuses a schedule that is not a list of durations', () => {
    expect(parseEnv({ WEBHOOK_RETRY_SCHEDULE: '50ms, 1s' }).WEBHOOK_RETRY_SCHEDULE).toBe('50ms, 1s');
    expect(() => parseEnv({ WEBHOOK_RETRY_SCHEDULE: '5 minutes' })).toThrow(/WEBHOOK_RETRY_SCHEDULE/);
    expect(parseEnv({ WEBHOOK_ALLOW_HTTP: 'true' }).WEBHOOK_ALLOW_HTTP).toBe(true);
  });
});
