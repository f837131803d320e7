import { describe, expect, it } from '@jest/globals';
import { RouteTable } from './route-table.js';

describe('RouteTable', () => {
  const t = new RouteTable();
  for (const [m, u] of [
    ['GET', '/v1/predictions'],
    ['POST', '/v1/predictions'],
    ['GET', '/v1/predictions/:id'],
    ['POST', '/v1/predictions/:id/cancel'],
    ['GET', '/docs/*'],
  ] as const)
    t.add(m, u);

  it('answers the methods of a concrete path', () => {
    expect(t.methodsFor('/v1/predictions')).toEqual(['GET', 'POST']);
    expect(t.methodsFor('/v1/predictions/abc')).toEqual(['GET']);
    expect(t.methodsFor('/v1/predictions/abc/cancel')).toEqual(['POST']);
    expect(t.methodsFor('/docs/swagger-ui.css')).toEqual(['GET']);
  });

  it('knows no method for an unknown path, an empty parameter or an extra segment', () => {
    expect(t.methodsFor('/v1/nothing')).toEqual([]);
    expect(t.methodsFor('/v1/predictions//cancel')).toEqual([]);
    expect(t.methodsFor('/v1/predictions/a/b')).toEqual([]);
  });
});
