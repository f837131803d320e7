import { z } from 'zod';
import { ProblemError } from './problem.js';

/** One failing member of a request: a JSON Pointer into the body (or the query, `/name`) and a sentence fragment. */
export interface FieldError {
  path: string;
  message: string;
}

/** JSON Pointer of a path (RFC 6901), under `prefix` ("" is the root). */
export function pointer(path: readonly PropertyKey[], prefix = ''): string {
  return prefix + path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

const ARTICLE: Record<string, string> = { string: 'a string', number: 'a number', int: 'an integer', boolean: 'true or false', object: 'an object', array: 'an array', bigint: 'an integer', date: 'a date' };
const FORMAT: Record<string, string> = { email: 'an email address', url: 'an http(s) URL', datetime: 'an ISO 8601 date-time with a zone, e.g. 2026-11-27T08:00:00Z', date: 'an ISO 8601 date', uuid: 'an id', regex: 'in the expected format' };

function bound(origin: string, n: number | bigint, least: boolean): string {
  const word = least ? 'at least' : 'at most';
  if (origin === 'string') return `must be ${word} ${n} character${n === 1 ? '' : 's'} long`;
  if (origin === 'array' || origin === 'set') return `must have ${word} ${n} item${n === 1 ? '' : 's'}`;
  return `must be ${word} ${n}`;
}

/**
 * The one voice of validation messages: a fragment after the member's name ("must be a
 * string", "is required"). Messages a schema sets itself (e.g. `min(1, 'must not be empty')`)
 * take precedence; this map replaces only zod's default English.
 */
export function issueMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      if (issue.expected === 'never') return 'is not a known field';
      return `must be ${ARTICLE[issue.expected] ?? issue.expected}`;
    case 'too_small':
      return bound(issue.origin, issue.minimum, true);
    case 'too_big':
      return bound(issue.origin, issue.maximum, false);
    case 'invalid_format':
      return `must be ${FORMAT[issue.format] ?? `a valid ${issue.format}`}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return 'is not a known field';
    case 'invalid_union':
      return 'does not match any allowed shape';
    default:
      return 'is not valid';
  }
}

const PARSE = { error: (issue: z.core.$ZodRawIssue) => issueMessage(issue) };

/** Zod issues as field errors under `prefix`; an unknown field is reported at its own path, one error per field. */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], prefix = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const i of issues) {
    if (i.code === 'unrecognized_keys') for (const k of i.keys) out.push({ path: pointer([...i.path, k], prefix), message: 'is not a known field' });
    else out.push({ path: pointer(i.path, prefix), message: i.message });
  }
  return out;
}

/** The 422 answer for failing members. */
export function validationProblem(what: 'request body' | 'query', errors: FieldError[]): ProblemError {
  const names = [...new Set(errors.map((e) => e.path || '(root)'))].join(', ');
  return new ProblemError('validation_failed', `The ${what} failed validation: ${names}.`, { extensions: { errors } });
}

/** Parses a JSON body with `schema` or throws 422 validation_failed naming every failing member. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ProblemError('validation_failed', 'The request body must be a JSON object.', { extensions: { errors: [{ path: '', message: 'must be a JSON object' }] } });
  }
  const parsed = schema.safeParse(body, PARSE);
  if (parsed.success) return parsed.data;
  throw validationProblem('request body', fieldErrors(parsed.error.issues));
}

/**
 * Parses a query string with `schema` (one rule for every route: 422 validation_failed, every
 * bad parameter named at `/<name>`). A parameter given more than once is refused, not half-read.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  const q = (query ?? {}) as Record<string, unknown>;
  const errors: FieldError[] = [];
  const single: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) {
    if (Array.isArray(v)) errors.push({ path: pointer([k]), message: 'must be given once' });
    else single[k] = v;
  }
  const parsed = schema.safeParse(single, PARSE);
  if (!parsed.success) errors.push(...fieldErrors(parsed.error.issues).filter((e) => !errors.some((x) => x.path === e.path)));
  if (errors.length || !parsed.success) throw validationProblem('query', errors);
  return parsed.data;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The cursor parameters every list takes: `limit` (1-100, default 20) and `starting_after` (the previous page's `next_cursor`). */
export const PAGE_QUERY = {
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('1-100, default 20'),
  starting_after: z
    .string()
    .regex(ID, 'must be the next_cursor of the previous page')
    .transform((s) => s.toLowerCase())
    .optional()
    .describe('The next_cursor of the previous page'),
};

/** A list's query: the cursor parameters plus the list's own filters. */
export const pageQuery = z.object(PAGE_QUERY);

/** `{limit, after?}` from a parsed page query. */
export function toPage(q: { limit: number; starting_after?: string | undefined }): { limit: number; after?: string } {
  return { limit: q.limit, ...(q.starting_after !== undefined ? { after: q.starting_after } : {}) };
}
