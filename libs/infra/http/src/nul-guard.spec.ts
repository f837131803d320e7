import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { findNul, findNulInRequest, nulRefusal } from './nul-guard.js';

describe('NUL characters in input (item 10)', () => {
  it('finds NUL in values and keys, with a JSON Pointer', () => {
    expect(findNul({ a: [1, 'x', { 'b/c': 'y\u0000' }] })).toBe('/a/2/b~1c');
    expect(findNul({ ['k\u0000']: 1 })).toBe('/k\u0000');
    expect(findNul('\u0000')).toBe('');
    expect(findNul({ a: ['fine', 2, null, true], b: 'ok' })).toBeNull();
  });

  it('walks a deeply nested body without overflowing the stack', () => {
    let deep: unknown = 'x\u0000';
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(findNul(deep)).toBe('/0'.repeat(200_000));
  });

  it('does not walk streams or buffers, and looks at path, query and body', () => {
    expect(findNul(Readable.from(['\u0000']))).toBeNull();
    expect(findNul(Buffer.from([0]))).toBeNull();
    const query = Object.create(null) as Record<string, string>;
    query.q = 'a\u0000';
    expect(findNulInRequest({ params: { id: 'ok' }, query, body: undefined })).toEqual({ in: 'query', path: '/q' });
    expect(findNulInRequest({ params: { id: '\u0000' } })).toEqual({ in: 'path', path: '/id' });
    // find-my-way's params have a prototype of their own (neither Object.prototype nor null).
    const params = Object.create(Object.create(null) as object) as Record<string, string>;
    params.id = 'x\u0000';
    expect(findNulInRequest({ params })).toEqual({ in: 'path', path: '/id' });
    const e = nulRefusal({ in: 'body', path: '/name' });
    expect(e.code).toBe('validation_failed');
    expect(e.status).toBe(422);
  });
});
