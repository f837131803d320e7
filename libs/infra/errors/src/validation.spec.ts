import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { PAGE_QUERY, parseBody, parseQuery, pointer, type FieldError } from './validation.js';
import { ProblemError } from './problem.js';

function errorsOf(fn: () => unknown): FieldError[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProblemError) {
      expect(e.code).toBe('validation_failed');
      return e.extensions['errors'] as FieldError[];
    }
    throw e;
  }
  throw new Error('expected validation_failed');
}

describe('validation messages in one voice', () => {
  const body = z.strictObject({
    name: z.string().min(1).max(5),
    count: z.number().int().min(1).max(10),
    tags: z.array(z.string()).max(2),
    kind: z.enum(['a', 'b']),
    email: z.email().optional(),
    note: z.string().min(3, 'must say something').optional(),
  });

  it('replaces zod default texts with fragments after the member name', () => {
    expect(errorsOf(() => parseBody(body, { count: 1.5, tags: ['x', 'y', 'z'], kind: 'c', email: 'nope' }))).toEqual([
      { path: '/name', message: 'is required' },
      { path: '/count', message: 'must be an integer' },
      { path: '/tags', message: 'must have at most 2 items' },
      { path: '/kind', message: 'must be one of "a", "b"' },
      { path: '/email', message: 'must be an email address' },
    ]);
    expect(errorsOf(() => parseBody(body, { name: 7, count: 11, tags: [], kind: 'a' }))).toEqual([
      { path: '/name', message: 'must be a string' },
      { path: '/count', message: 'must be at most 10' },
    ]);
    expect(errorsOf(() => parseBody(body, { name: 'toolong', count: 0, tags: [], kind: 'a' }))).toEqual([
      { path: '/name', message: 'must be at most 5 characters long' },
      { path: '/count', message: 'must be at least 1' },
    ]);
  });

  it("keeps a schema's own message, reports each unknown field at its path, refuses non-objects", () => {
    expect(errorsOf(() => parseBody(body, { name: 'x', count: 1, tags: [], kind: 'a', note: 'x', extra: 1, 'a/b': 2 }))).toEqual([
      { path: '/note', message: 'must say something' },
      { path: '/extra', message: 'is not a known field' },
      { path: '/a~1b', message: 'is not a known field' },
    ]);
    expect(errorsOf(() => parseBody(body, [1]))).toEqual([{ path: '', message: 'must be a JSON object' }]);
  });

  it('writes JSON Pointers under a prefix', () => {
    expect(pointer(['input', 'a~b', 0], '/x')).toBe('/x/input/a~0b/0');
    expect(pointer([])).toBe('');
  });
});

describe('parseQuery', () => {
  const q = z.object({ ...PAGE_QUERY, since: z.iso.datetime().optional() });

  it('parses the cursor parameters with their defaults', () => {
    expect(parseQuery(q, {})).toEqual({ limit: 20 });
    expect(parseQuery(q, { limit: '5', starting_after: '0193D7A2-0000-7000-8000-00000000000A' })).toEqual({ limit: 5, starting_after: '0193d7a2-0000-7000-8000-00000000000a' });
  });

  it('names every bad parameter, a repeated one included', () => {
    expect(errorsOf(() => parseQuery(q, { limit: 'ten', since: 'yesterday', starting_after: ['a', 'b'] }))).toEqual([
      { path: '/starting_after', message: 'must be given once' },
      { path: '/limit', message: 'must be a number' },
      { path: '/since', message: 'must be an ISO 8601 date-time with a zone, e.g. 2026-11-27T08:00:00Z' },
    ]);
  });
});
