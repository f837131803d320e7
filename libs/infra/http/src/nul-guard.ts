import { ProblemError } from '#infra/errors';

export type InputPart = 'body' | 'path' | 'query';

/** Where a NUL character was found: the part of the request and a JSON Pointer into it. */
export interface NulFinding {
  in: InputPart;
  path: string;
}

const escapePointer = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * Finds the first string (value or object key) containing U+0000 in a parsed JSON value,
 * walking with an explicit stack (a deeply nested body cannot overflow the call stack).
 * Postgres refuses NUL in text, so such input is refused at the edge instead of failing late.
 */
export function findNul(value: unknown): string | null {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], path: `${path}/${i}` });
    } else if (v !== null && typeof v === 'object' && isPlain(v)) {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const p = `${path}/${escapePointer(k)}`;
        if (k.includes('\u0000')) return p;
        stack.push({ v: child, path: p });
      }
    }
  }
  return null;
}

/** Plain objects only (a stream body, a Buffer or a class instance is not walked). */
function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The first NUL in path parameters, query or body, or null. */
export function findNulInRequest(request: { params?: unknown; query?: unknown; body?: unknown }): NulFinding | null {
  // Fastify's params and query objects have unusual prototypes: their own entries are walked.
  const path = findNulInEntries(request.params);
  if (path !== null) return { in: 'path', path };
  const query = findNulInEntries(request.query);
  if (query !== null) return { in: 'query', path: query };
  if (request.body === undefined || request.body === null) return null;
  const body = findNul(request.body);
  return body === null ? null : { in: 'body', path: body };
}

/**
 * findNul over a copy of an object's own entries (params, query). The common case, plain
 * strings without NUL, is answered without copying; anything else takes the full walk.
 */
function findNulInEntries(v: unknown): string | null {
  if (v === null || typeof v !== 'object') return findNul(v);
  for (const k in v) {
    if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
    const child = (v as Record<string, unknown>)[k];
    if (typeof child !== 'string' || child.includes('\u0000') || k.includes('\u0000')) return findNul({ ...v });
  }
  return null;
}

/** 422 validation_failed naming where the NUL is. */
export function nulRefusal(finding: NulFinding): ProblemError {
  return new ProblemError('validation_failed', `Text must not contain the NUL character (U+0000); found in the request ${finding.in} at "${finding.path}".`, {
    extensions: { errors: [{ in: finding.in, path: finding.path, message: 'must not contain the NUL character (U+0000)' }] },
  });
}
