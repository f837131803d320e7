import { z } from 'zod';
import { ProblemError, parseBody } from '#infra/errors';

export const WEBHOOK_EVENTS = ['start', 'output', 'logs', 'completed'] as const;

/** The body of POST /v1/predictions. Unknown fields are refused (a typo must not pass silently). */
export const createPredictionBody = z.strictObject({
  feature: z.string().min(1).max(100),
  version: z.string().min(1).max(20).optional(),
  input: z.record(z.string(), z.unknown()),
  webhook: z.url({ protocol: /^https?$/ }).max(2048).optional(),
  webhook_events_filter: z.array(z.enum(WEBHOOK_EVENTS)).max(WEBHOOK_EVENTS.length).optional(),
});

export type CreatePredictionBody = z.output<typeof createPredictionBody>;

/** Parses the body or throws a 422 naming every failing path (JSON Pointer). */
export function parseCreatePredictionBody(body: unknown): CreatePredictionBody {
  return parseBody(createPredictionBody, body);
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new ProblemError('invalid_header', 'Idempotency-Key must be 1-255 visible ASCII characters.');
  }
  return header;
}
