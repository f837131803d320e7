import { z } from 'zod';
import { PAGE_QUERY, parseBody } from '#infra/errors';
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

/** The URL member: the registration check (scheme, credentials) is a refinement, so every bad member is named at once. */
const urlOf = (allowHttp: boolean) =>
  z
    .string()
    .max(2048)
    .superRefine((v, ctx) => {
      const problem = webhookUrlProblem(v, allowHttp);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe(allowHttp ? 'An http(s) URL' : 'An https URL');

/** The body of POST …/webhook-endpoints. */
export const createEndpointBody = (allowHttp = false) =>
  z.strictObject({
    url: urlOf(allowHttp),
    event_types: eventTypes.optional().describe('Empty or absent: every event type'),
    description: z.string().max(200).optional(),
    enabled: z.boolean().optional(),
  });
/** The body of PATCH …/webhook-endpoints/{id}. */
export const updateEndpointBody = (allowHttp = false) => createEndpointBody(allowHttp).partial();

export interface EndpointInput {
  url?: string;
  eventTypes?: string[];
  description?: string;
  enabled?: boolean;
}

function toInput(d: { url?: string | undefined; event_types?: string[] | undefined; description?: string | undefined; enabled?: boolean | undefined }): EndpointInput {
  return {
    ...(d.url !== undefined ? { url: d.url } : {}),
    ...(d.event_types !== undefined ? { eventTypes: [...new Set(d.event_types)] } : {}),
    ...(d.description !== undefined ? { description: d.description } : {}),
    ...(d.enabled !== undefined ? { enabled: d.enabled } : {}),
  };
}

export function parseCreateEndpoint(body: unknown, allowHttp: boolean): EndpointInput & { url: string } {
  return toInput(parseBody(createEndpointBody(allowHttp), body)) as EndpointInput & { url: string };
}

export function parseUpdateEndpoint(body: unknown, allowHttp: boolean): EndpointInput {
  return toInput(parseBody(updateEndpointBody(allowHttp), body));
}

/** The query of the endpoint and attempt lists. */
export const webhookPageQuery = z.object(PAGE_QUERY);
/** The query of the message list: the cursor and an endpoint. */
export const webhookMessagesQuery = z.object({ ...PAGE_QUERY, endpoint_id: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be an endpoint id').optional().describe('Only the messages of this endpoint') });
