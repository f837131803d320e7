import { describe, expect, it } from '@jest/globals';
import { parseCookies, serializeCookie } from './cookies.js';
import { csrfTokensMatch, isSafeMethod, newCsrfToken } from './csrf.js';
import { hashPassword, normalizeEmail, verifyPassword } from './passwords.js';

describe('cookies', () => {
  it('parses pairs, trims, decodes, keeps the first of a name and skips malformed parts', () => {
    const c = parseCookies(' a=1; stratum_session=abc%2Fdef ; junk; =x; a=2; q="quoted"; bad=%E0%A4%A');
    expect([...c]).toEqual([
      ['a', '1'],
      ['stratum_session', 'abc/def'],
      ['q', 'quoted'],
      ['bad', '%E0%A4%A'],
    ]);
    expect(parseCookies(undefined).size).toBe(0);
    expect(parseCookies('').size).toBe(0);
  });

  it('serialises with every attribute, and a deletion with Max-Age=0', () => {
    const s = serializeCookie('stratum_session', 'a/b', { maxAge: 60, httpOnly: true, secure: true, sameSite: 'Lax' });
    expect(s).toMatch(/^stratum_session=a%2Fb; Max-Age=60; Expires=[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} [\d:]{8} GMT; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(serializeCookie('x', '', { maxAge: 0 })).toMatch(/^x=; Max-Age=0; Expires=.*; Path=\/$/);
    expect(() => serializeCookie('bad name', 'v')).toThrow(/invalid cookie name/);
  });
});

describe('csrf', () => {
  it('matches only the exact token, whatever the length of the candidate', () => {
    const t = newCsrfToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(csrfTokensMatch(t, t)).toBe(true);
    expect(csrfTokensMatch(t, t.slice(0, -1))).toBe(false);
    expect(csrfTokensMatch(t, t + 'x')).toBe(false);
    expect(csrfTokensMatch(t, undefined)).toBe(false);
    expect(csrfTokensMatch(t, [t])).toBe(false);
    expect(csrfTokensMatch(t, '')).toBe(false);
    expect(csrfTokensMatch('', '')).toBe(false);
  });

  it('GET, HEAD and OPTIONS are safe; the rest need the token', () => {
    expect(['GET', 'head', 'OPTIONS'].map(isSafeMethod)).toEqual([true, true, true]);
    expect(['POST', 'PATCH', 'PUT', 'DELETE'].map(isSafeMethod)).toEqual([false, false, false, false]);
  });
});

describe('passwords', () => {
  it('hashes with argon2id and verifies; a missing hash is always false', async () => {
    const h = await hashPassword('correct horse battery');
    expect(h).toMatch(/^\$argon2id\$v=19\$/);
    expect(await verifyPassword(h, 'correct horse battery')).toBe(true);
    expect(await verifyPassword(h, 'correct horse batterY')).toBe(false);
    expect(await verifyPassword(null, 'anything')).toBe(false);
    expect(await verifyPassword('not a hash', 'anything')).toBe(false);
  });

  it('normalises emails', () => {
    expect(normalizeEmail('  Ada@Example.COM ')).toBe('ada@example.com');
  });
});
