import type { z } from 'zod';
import { parseBody } from '#infra/errors';

/** Parses a JSON body with `schema` or throws 422 validation_failed listing every failing path (see #infra/errors parseBody). */
export function parseOrProblem<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  return parseBody(schema, value);
}
