import { describe, expect, it } from '@jest/globals';
import { sessionCookieSettings, sessionRemainingSeconds } from './sessions.js';

const HOUR = 3600;

describe('sessionRemainingSeconds', () => {
  it('is the sliding TTL while the absolute lifetime is far away', () => {
    expect(sessionRemainingSeconds(0, 1_000, 24 * HOUR, 30 * 24 * HOUR)).toBe(24 * HOUR);
  });

  it('is cut at the absolute lifetime, however recently the session was used', () => {
    const created = 1_000_000;
    expect(sessionRemainingSeconds(created, created + (30 * 24 - 2) * HOUR * 1000, 24 * HOUR, 30 * 24 * HOUR)).toBe(2 * HOUR);
    expect(sessionRemainingSeconds(created, created + 30 * 24 * HOUR * 1000, 24 * HOUR, 30 * 24 * HOUR)).toBe(0);
    expect(sessionRemainingSeconds(created, created + 30 * 24 * HOUR * 1000 - 500, 24 * HOUR, 30 * 24 * HOUR)).toBe(0);
  });

  it('is 0 for a creation time in the future (a record that cannot be right)', () => {
    expect(sessionRemainingSeconds(2_000, 1_000, HOUR, HOUR)).toBe(0);
  });
});

describe('sessionCookieSettings', () => {
  it('uses the __Host- prefix and Secure in production, whatever PUBLIC_BASE_URL says', () => {
    expect(sessionCookieSettings({ NODE_ENV: 'production' }, 'http://localhost:3000')).toEqual({ name: '__Host-stratum_session', secure: true });
    expect(sessionCookieSettings({ NODE_ENV: 'production' }, 'https://api.example')).toEqual({ name: '__Host-stratum_session', secure: true });
  });

  it('keeps the plain name over http in development and test, Secure only for an https base URL', () => {
    expect(sessionCookieSettings({ NODE_ENV: 'development' }, 'http://localhost:3000')).toEqual({ name: 'stratum_session', secure: false });
    expect(sessionCookieSettings({ NODE_ENV: 'test' }, 'https://stratum.example')).toEqual({ name: 'stratum_session', secure: true });
  });
});
