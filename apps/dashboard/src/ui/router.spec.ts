import { describe, expect, it } from '@jest/globals';
import { hrefOf, parseRoute } from './router.js';

describe('the dashboard routes', () => {
  it('parses and prints the same paths', () => {
    for (const path of ['/dashboard/login', '/dashboard/signup', '/dashboard/orgs/acme/keys', '/dashboard/orgs/acme/overview']) expect(hrefOf(parseRoute(path))).toBe(path);
  });

  it('sends unknown pages of an organization to its overview and anything else home', () => {
    expect(parseRoute('/dashboard/orgs/acme/nope')).toEqual({ kind: 'org', org: 'acme', page: 'overview' });
    expect(parseRoute('/dashboard/')).toEqual({ kind: 'home' });
    expect(parseRoute('/dashboard/orgs/')).toEqual({ kind: 'home' });
  });
});
