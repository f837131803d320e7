import type { z } from 'zod';
import { ProblemError } from '#infra/errors';

/** JSON Pointer of a zod issue path ("" for the root). */
export function pointer(path: readonly PropertyKey[]): string {
  return path.length ? '/' + path.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/') : '';
}

/** Parses with `schema` or throws 422 validation_failed listing every failing path. */
export function parseOrProblem<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProblemError('validation_failed', `The ${what} must be a JSON object.`, { extensions: { errors: [{ path: '', message: 'must be an object' }] } });
  }
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = parsed.error.issues.map((i) => ({ path: pointer(i.path), message: i.message }));
  throw new ProblemError('validation_failed', `The ${what} failed validation.`, { extensions: { errors } });
}
