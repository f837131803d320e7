import { z } from 'zod';
import { ProblemError } from '#infra/errors';
import { WEBHOOK_EVENT_TYPES } from './prediction-events.js';

/**
 * Checked when a URL is registered (the address is checked again at each delivery, after DNS
 * resolution): http(s) only, https unless http is allowed, no credentials, at most 2048 characters.
 */
export function webhookUrlProblem(value: string, allowHttp: boolean): string | null {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (value.length > 2048) return 'must be at most 2048 characters';
  if (u.protocol !== 'https:' && !(allowHttp && u.protocol === 'http:')) return allowHttp ? 'must be an http:// or https:// URL' : 'must be an https:// URL';
  if (u.username || u.password) return 'must not carry credentials';
  return null;
}

const eventTypes = z.array(z.enum(WEBHOOK_EVENT_TYPES as [string, ...string[]])).max(WEBHOOK_EVENT_TYPES.length);

const createBody = z.strictObject({
  url: z.string().max(2048),
  event_types: eventTypes.optional(),
  description: z.string().max(200).optional(),
  enabled: z.boolean().optional(),
});
const updateBody = createBody.partial();

export interface EndpointInput {
  url?: string;
  eventTypes?: string[];
  description?: string;
  enabled?: boolean;
}

function fail(errors: { path: string; message: string }[]): never {
  throw new ProblemError('validation_failed', 'The request body failed validation.', { extensions: { errors } });
}

function parse(schema: typeof createBody | typeof updateBody, body: unknown, allowHttp: boolean): EndpointInput {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail([{ path: '', message: 'must be an object' }]);
  const r = schema.safeParse(body);
  const errors = r.success ? [] : r.error.issues.map((i) => ({ path: i.path.length ? '/' + i.path.join('/') : '', message: i.message }));
  const url = (body as { url?: unknown }).url;
  const urlProblem = typeof url === 'string' ? webhookUrlProblem(url, allowHttp) : null;
  if (urlProblem && !errors.some((e) => e.path === '/url')) errors.push({ path: '/url', message: urlProblem });
  if (!r.success || errors.length) fail(errors);
  const d = r.data;
  return {
    ...(d.url !== undefined ? { url: d.url } : {}),
    ...(d.event_types !== undefined ? { eventTypes: [...new Set(d.event_types)] } : {}),
    ...(d.description !== undefined ? { description: d.description } : {}),
    ...(d.enabled !== undefined ? { enabled: d.enabled } : {}),
  };
}

export function parseCreateEndpoint(body: unknown, allowHttp: boolean): EndpointInput & { url: string } {
  return parse(createBody, body, allowHttp) as EndpointInput & { url: string };
}

export function parseUpdateEndpoint(body: unknown, allowHttp: boolean): EndpointInput {
  return parse(updateBody, body, allowHttp);
}
