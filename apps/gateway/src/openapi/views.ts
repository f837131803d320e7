import { z } from 'zod';
import { API_KEY_SCOPES } from '#platform/api-keys';
import { PROBLEM_CODES } from '#infra/errors';
import { PERMISSIONS, ROLES } from '#platform/tenancy';
import type { JsonSchema } from './contract.js';

/**
 * The shapes of the answers, as zod schemas: components of the OpenAPI document (the request
 * bodies and queries are the parsers' own schemas, declared in each route's contract).
 */
export const VIEWS = z.registry<{ id: string }>();

const dateTime = z.iso.datetime();
const id = z.string().describe('An id (uuid)');
const view = <S extends z.ZodType>(name: string, schema: S): S => {
  VIEWS.add(schema, { id: name });
  return schema;
};
/** Every list: `data`, `has_more` and `next_cursor` (null on the last page; pass it as `starting_after`). */
const list = (name: string, item: z.ZodType) =>
  view(`${name}List`, z.object({ object: z.literal('list'), data: z.array(item), has_more: z.boolean(), next_cursor: z.string().nullable().describe('starting_after for the next page; null on the last') }));

export const Problem = view(
  'Problem',
  z
    .object({
      type: z.string().describe('A relative URI reference: /problems/{code}, a page about the code'),
      title: z.string(),
      status: z.number().int(),
      detail: z.string(),
      code: z.enum(Object.keys(PROBLEM_CODES) as [string, ...string[]]),
      requestId: z.string().optional(),
      instance: z.string().optional(),
      errors: z.array(z.object({ path: z.string().describe('JSON Pointer into the body, or /<name> of a query parameter'), message: z.string() })).optional(),
    })
    .loose()
    .describe('RFC 9457 problem details with a stable `code`'),
);

const scope = z.enum(API_KEY_SCOPES);
const role = z.enum(ROLES);
const actorRef = z.object({ type: z.enum(['user', 'api_key']), id });

export const ApiKey = view(
  'ApiKey',
  z
    .object({
      id,
      object: z.literal('api_key'),
      name: z.string(),
      mode: z.enum(['live', 'test']),
      livemode: z.boolean().describe('false for test-mode keys (never billed)'),
      display_prefix: z.string(),
      scopes: z.array(scope),
      rate_limit_per_minute: z.number().int().min(1).nullable(),
      expires_at: dateTime.nullable(),
      last_used_at: dateTime.nullable().describe('Written in batches (about every 10 s)'),
      revoked_at: dateTime.nullable(),
      rolled_to: id.nullable().describe('The key that replaced this one'),
      created_by: actorRef.nullable(),
      created_at: dateTime,
      status: z.enum(['active', 'expired', 'revoked', 'rolled']),
    })
    .describe('An API key. The secret is never part of it (only of the answer that creates it); neither is its digest.'),
);
view('ApiKeyWithSecret', ApiKey.extend({ secret: z.string().describe('Shown this once; store it now') }));
list('ApiKey', ApiKey);

export const AuditEntry = view(
  'AuditEntry',
  z.object({
    id,
    object: z.literal('audit_entry'),
    action: z.string().describe('e.g. api_key.create'),
    actor: actorRef.describe('user = dashboard session'),
    target: z.object({ type: z.string(), id: z.string().nullable() }),
    ip: z.string().nullable(),
    changes: z.object({ before: z.record(z.string(), z.unknown()), after: z.record(z.string(), z.unknown()) }).nullable().describe('{before, after} of the fields that changed; never secrets'),
    created_at: dateTime,
  }),
);
list('AuditEntry', AuditEntry);

export const Organization = view(
  'Organization',
  z.object({ id, object: z.literal('organization'), slug: z.string(), name: z.string(), created_at: dateTime, updated_at: dateTime, role: role.optional().describe("The caller's role (sessions only)") }),
);
list('Organization', Organization);

export const Member = view('Member', z.object({ id, object: z.literal('member'), user: z.object({ id, email: z.string(), name: z.string().nullable() }), role, created_at: dateTime }));
list('Member', Member);

export const Invitation = view(
  'Invitation',
  z.object({ id, object: z.literal('invitation'), email: z.string(), role, status: z.enum(['pending', 'accepted', 'revoked', 'expired']), invited_by: id.nullable(), expires_at: dateTime, created_at: dateTime }),
);
view('InvitationWithToken', Invitation.extend({ token: z.string().describe('One-time token for POST /v1/invitations/accept; shown once') }));
list('Invitation', Invitation);

view(
  'SignupAccepted',
  z.object({ object: z.literal('signup'), email: z.string() }).describe('The same answer whether the email was free (the account was created) or not (nothing changed); log in next.'),
);

view(
  'Me',
  z.object({
    object: z.literal('user'),
    id,
    email: z.string(),
    name: z.string().nullable(),
    created_at: dateTime,
    memberships: z.array(z.object({ org_id: id, slug: z.string(), name: z.string(), role, permissions: z.array(z.enum(PERMISSIONS)).describe('What the role grants in this organization (the dashboard offers only these actions)') })),
    csrf_token: z.string().describe('Send as X-CSRF-Token on state-changing requests made with the cookie'),
  }),
);

const json = z.record(z.string(), z.unknown());
export const Prediction = view(
  'Prediction',
  z
    .object({
      id,
      object: z.literal('prediction'),
      feature: z.string(),
      version: z.string(),
      status: z.string().describe('starting, processing, succeeded, failed or canceled'),
      mode: z.enum(['live', 'test']),
      output: z.unknown().describe('The output when succeeded, else null'),
      error: z.object({ code: z.string(), message: z.string() }).nullable(),
      units: z.number().nullable(),
      metrics: z.record(z.string(), z.unknown()).nullable(),
      models: z.array(z.object({ name: z.string(), version: z.string(), sha256: z.string().optional().describe("sha256 of the model artifact that served it") })).describe('The model versions that served the prediction'),
      created_at: dateTime,
      started_at: dateTime.nullable(),
      completed_at: dateTime.nullable(),
      urls: z.object({ get: z.string(), cancel: z.string() }),
    }),
);
list('Prediction', Prediction);

const featurePrice = z.object({
  unit_type: z.string().describe('What a unit is: image, line, characters, second…'),
  units: z
    .union([z.number().int(), z.object({ count: z.string() }).loose(), z.object({ characters: z.string(), per: z.number().int().optional() }).loose(), z.object({ seconds: z.literal('compute') }).loose()])
    .describe('Units per call: a number, or counted from the call (items of an output list, started `per` characters, started seconds of compute); `min` is the least a call counts'),
  description: z.string(),
});
const featureVersion = z.object({
  version: z.string(),
  default: z.boolean().describe('The version a call without a version runs'),
  description: z.string(),
  input_schema: json.describe('JSON Schema 2020-12 of `input`'),
  output_schema: json.describe('JSON Schema 2020-12 of `output`'),
  price: featurePrice,
  models: z.array(z.object({ name: z.string(), version: z.string() })),
  sha256: z.string().nullable().describe("sha256 of the version's canonical document (a published version never changes)"),
});
export const Feature = view(
  'Feature',
  z.object({
    object: z.literal('feature'),
    name: z.string(),
    version: z.string().describe('The version shown at the top level: the default one unless asked for as name@version'),
    description: z.string(),
    input_schema: json.describe('JSON Schema 2020-12 of `input`'),
    output_schema: json.describe('JSON Schema 2020-12 of `output`'),
    price: featurePrice,
    models: z.array(z.object({ name: z.string(), version: z.string() })),
    default_version: z.string(),
    versions: z.array(featureVersion),
  }),
);
list('Feature', Feature);

const tensorSpec = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) }).loose();
const modelVersion = z.object({
  version: z.string(),
  sha256: z.string(),
  size_bytes: z.number().int(),
  inputs: z.array(tensorSpec),
  outputs: z.array(tensorSpec),
  ready: z.boolean().describe('Can serve now: warm on a live worker, or (uploads) a live worker serves uploaded models; the same as /v2/models/{name}/versions/{version}/ready'),
  ready_workers: z.number().int(),
  created_at: dateTime,
});
export const Model = view(
  'Model',
  z.object({
    object: z.literal('model'),
    name: z.string(),
    owner: z.enum(['platform', 'organization']),
    description: z.string().nullable(),
    pool: z.string(),
    default_version: z.string().nullable(),
    ready: z.boolean().describe('The default version can serve now'),
    versions: z.array(modelVersion),
    created_at: dateTime,
  }),
);
list('Model', Model);
view(
  'ModelVersion',
  z.object({
    object: z.literal('model_version'),
    model: z.string(),
    version: z.string(),
    owner: z.literal('organization'),
    pool: z.string(),
    sha256: z.string(),
    size_bytes: z.number().int(),
    inputs: z.array(tensorSpec),
    outputs: z.array(tensorSpec),
    created_at: dateTime,
    urls: z.object({ metadata: z.string(), infer: z.string() }),
  }),
);

const v2Tensor = z.object({ name: z.string(), datatype: z.string(), shape: z.array(z.number().int()) });
view('V2ServerMetadata', z.object({ name: z.string(), version: z.string(), extensions: z.array(z.string()) }));
view('V2ModelMetadata', z.object({ name: z.string(), versions: z.array(z.string()), platform: z.string(), inputs: z.array(v2Tensor), outputs: z.array(v2Tensor) }));
view('V2ModelReady', z.object({ name: z.string(), version: z.string(), ready: z.literal(true) }));
view('V2InferResponse', z.object({ model_name: z.string(), model_version: z.string(), id: z.string(), outputs: z.array(v2Tensor.extend({ data: z.array(z.unknown()) }).loose()) }));

// ---- Usage and billing (ledger) ----
const minor = z.number().int().describe('Integer minor units of `currency` (cents for usd)');
const unitPrice = z.string().describe('Decimal string in minor units per unit, e.g. "0.125" = 0.125 cent');
view(
  'Usage',
  z.object({
    object: z.literal('usage'),
    from: dateTime,
    to: dateTime,
    granularity: z.enum(['hour', 'day', 'month']),
    time_zone: z.string(),
    group_by: z.array(z.enum(['feature', 'key', 'model', 'mode'])),
    currency: z.string(),
    data: z.array(
      z.object({
        start: dateTime,
        end: dateTime,
        feature: z.string().optional(),
        api_key_id: id.optional(),
        model: z.string().optional().describe('"name@version" of the serving models joined by "+"; "" when none'),
        mode: z.enum(['live', 'test']).optional(),
        calls: z.number().int(),
        units: z.number().int(),
        amount: minor.describe('At the list price in force, before included units, rounded once per row (half to even); 0 for test usage'),
      }),
    ),
    totals: z.object({ calls: z.number().int(), units: z.number().int(), amount: minor }),
  }),
);
view(
  'UpcomingInvoice',
  z.object({
    object: z.literal('upcoming_invoice'),
    plan: z.object({ key: z.string(), name: z.string() }),
    currency: z.string(),
    period: z.object({ start: dateTime, end: dateTime }),
    lines: z.array(
      z.object({
        feature: z.string(),
        unit_type: z.string(),
        units: z.number().int(),
        included: z.number().int(),
        billable: z.number().int(),
        unit_price: unitPrice,
        amount: minor.describe('billable × unit_price, rounded once, half to even'),
        start: dateTime.describe('The stretch of the period this line prices (a plan change splits the period)'),
        end: dateTime,
        plan: z.string().describe('The plan in force over the stretch'),
      }),
    ),
    subtotal: minor,
    total: minor,
  }),
);
view(
  'OrganizationPlan',
  z.object({
    object: z.literal('organization_plan'),
    key: z.string(),
    name: z.string(),
    currency: z.string(),
    included_units: z.number().int().describe('Units included per month (0: none)'),
    hard_limit: z.boolean().describe('true: calls past the included units are refused (429 quota_exceeded)'),
    unit_price: unitPrice,
    feature_prices: z.record(z.string(), unitPrice),
    rate_limit_per_minute: z.number().int(),
    max_concurrent_predictions: z.number().int(),
    queue_priority: z.number().int(),
    changed: z.boolean().describe('false when the organization was on this plan already'),
    effective_at: dateTime.nullable().describe("When the new plan's prices and included units start (the next quarter hour); its limits apply at once"),
  }),
);

/** The component schemas of every view, JSON Schema 2020-12 (OpenAPI 3.1's dialect), referring to each other by $ref. */
export function viewSchemas(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(VIEWS, { target: 'draft-2020-12', uri: (name) => `#/components/schemas/${name}`, unrepresentable: 'any' });
  const out: Record<string, JsonSchema> = {};
  for (const [name, s] of Object.entries(schemas)) {
    const { $schema: _s, $id: _i, ...rest } = s as JsonSchema;
    out[name] = rest;
  }
  return out;
}
