import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES } from '#platform/webhooks';
import { VIEWS } from '../openapi/views.js';

/** The answers of the webhook routes, as components of the OpenAPI document (registered in VIEWS on import). */
const view = <S extends z.ZodType>(name: string, schema: S): S => {
  VIEWS.add(schema, { id: name });
  return schema;
};
const list = (name: string, item: z.ZodType) =>
  view(`${name}List`, z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean(), next_cursor: z.string().nullable().describe('starting_after for the next page; null on the last') }));
const dateTime = z.iso.datetime();
const id = z.string().describe('An id (uuid)');

const endpointFields = {
  id,
  object: z.literal('webhook_endpoint'),
  url: z.string(),
  event_types: z.array(z.enum(WEBHOOK_EVENT_TYPES as [string, ...string[]])).describe('Empty: every event type'),
  description: z.string(),
  enabled: z.boolean(),
  disabled_reason: z.string().nullable().describe('"gone" when a 410 answer disabled it'),
  created_at: dateTime,
  updated_at: dateTime,
};
export const WebhookEndpoint = view('WebhookEndpoint', z.object(endpointFields));
view('WebhookEndpointCreated', z.object({ ...endpointFields, secret: z.string().optional().describe("The organization's whsec_ signing secret, when this call created it (shown this once)") }));
list('WebhookEndpoint', WebhookEndpoint);

const WebhookMessage = view(
  'WebhookMessage',
  z.object({
    id: id.describe('Also the webhook-id header of every attempt'),
    object: z.literal('webhook_message'),
    endpoint_id: z.string().nullable().describe("null for a prediction's own webhook URL"),
    url: z.string(),
    event_type: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed', 'canceled']),
    attempts: z.number().int().describe('Attempts in the current run of the retry schedule'),
    next_attempt_at: dateTime.nullable(),
    delivered_at: dateTime.nullable(),
    created_at: dateTime,
    payload: z.unknown().describe('The body sent: {type, timestamp, data}'),
  }),
);
list('WebhookMessage', WebhookMessage);

const WebhookAttempt = view(
  'WebhookAttempt',
  z.object({
    id,
    object: z.literal('webhook_attempt'),
    message_id: z.string(),
    endpoint_id: z.string().nullable(),
    url: z.string(),
    attempt: z.number().int(),
    trigger: z.enum(['initial', 'retry', 'replay']),
    status: z.number().int().nullable().describe('The HTTP status; null when no answer came (refused address, timeout, connection error)'),
    response: z.string().describe('The first 1 KiB of the answer, or why there was none'),
    duration_ms: z.number().int(),
    created_at: dateTime,
  }),
);
list('WebhookAttempt', WebhookAttempt);

view('WebhookSecretInfo', z.object({ object: z.literal('webhook_secret'), exists: z.boolean(), rotated_at: dateTime.nullable(), previous_valid_until: dateTime.nullable() }));
view(
  'WebhookSecretRotated',
  z.object({ object: z.literal('webhook_secret'), secret: z.string().describe('The new whsec_ secret, shown this once'), rotated_at: dateTime, previous_valid_until: dateTime.nullable().describe('Until then the previous secret also signs') }),
);
view('WebhookReplay', z.object({ object: z.literal('webhook_message'), id, status: z.literal('pending') }));
