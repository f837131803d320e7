import { describe, expect, it } from '@jest/globals';
import { pageQuery, parseQuery, ProblemError, toPage } from '#infra/errors';
import { createInvitationBody, createOrgBody, parseBody, signupBody, slugify } from './parse-body.js';

function problemOf(fn: () => unknown): ProblemError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a ProblemError');
}

describe('parseBody', () => {
  it('normalises the email and accepts optional fields', () => {
    expect(parseBody(signupBody, { email: ' A@B.IO ', password: 'x'.repeat(10), name: '  Ada ' })).toEqual({ email: 'a@b.io', password: 'x'.repeat(10), name: 'Ada' });
  });

  it('refuses unknown fields, bounds and non-objects with 422 and JSON Pointer paths', () => {
    const p = problemOf(() => parseBody(signupBody, { email: 'a@b.io', password: 'x'.repeat(9), role: 'owner' }));
    expect(p.code).toBe('validation_failed');
    expect(p.extensions.errors).toEqual([
      { path: '/password', message: 'at least 10 characters' },
      { path: '/role', message: 'is not a known field' },
    ]);
    expect(problemOf(() => parseBody(signupBody, { email: 'a@b.io', password: 'x'.repeat(257) })).status).toBe(422);
    expect(problemOf(() => parseBody(signupBody, null)).extensions.errors).toEqual([{ path: '', message: 'must be a JSON object' }]);
    expect(problemOf(() => parseBody(signupBody, { email: 'a@b.io', password: 'x'.repeat(10), name: '\u0000' })).status).toBe(422);
  });

  it('slugs: lower-case, hyphens inside, never uuid-shaped', () => {
    expect(parseBody(createOrgBody, { name: 'Acme', slug: 'acme-1' }).slug).toBe('acme-1');
    for (const slug of ['Acme', '-acme', 'ac', 'acme-', '01234567-89ab-7def-8123-456789abcdef']) {
      expect(problemOf(() => parseBody(createOrgBody, { name: 'Acme', slug })).code).toBe('validation_failed');
    }
  });

  it('invitation expiry is bounded to 30 days', () => {
    expect(parseBody(createInvitationBody, { email: 'a@b.io', role: 'viewer', expires_in_seconds: 3600 }).expires_in_seconds).toBe(3600);
    expect(problemOf(() => parseBody(createInvitationBody, { email: 'a@b.io', role: 'viewer', expires_in_seconds: 31 * 86400 })).code).toBe('validation_failed');
    expect(problemOf(() => parseBody(createInvitationBody, { email: 'a@b.io', role: 'god' })).code).toBe('validation_failed');
  });
});

describe('slugify and page queries', () => {
  it('derives slugs', () => {
    expect(slugify("Ada's organization")).toBe('ada-s-organization');
    expect(slugify('Café Ünïcode!!')).toBe('cafe-unicode');
    expect(slugify('!!')).toBe('org');
    expect(slugify('x')).toBe('org-x');
    expect(slugify('a'.repeat(80))).toHaveLength(40);
  });

  it('parses pages: 422 naming every bad parameter', () => {
    const parsePage = (q: Record<string, unknown>) => toPage(parseQuery(pageQuery, q));
    expect(parsePage({})).toEqual({ limit: 20 });
    expect(parsePage({ limit: '5', starting_after: '01234567-89AB-7DEF-8123-456789ABCDEF' })).toEqual({ limit: 5, after: '01234567-89ab-7def-8123-456789abcdef' });
    const p = problemOf(() => parsePage({ limit: '101', starting_after: 'x' }));
    expect(p.code).toBe('validation_failed');
    expect(p.extensions.errors).toEqual([
      { path: '/limit', message: 'must be at most 100' },
      { path: '/starting_after', message: 'must be the next_cursor of the previous page' },
    ]);
    expect(problemOf(() => parsePage({ limit: ['1', '2'] })).extensions.errors).toEqual([{ path: '/limit', message: 'must be given once' }]);
  });
});
