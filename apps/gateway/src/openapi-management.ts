import type { OpenAPIObject } from '@nestjs/swagger';
import { API_KEY_SCOPES } from '#platform/api-keys';
import { SESSION_COOKIE } from '#platform/identity';
import { ROLES as ROLE_NAMES } from '#platform/tenancy';

type Schema = Record<string, unknown>;
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
const nullable = (s: Schema): Schema => ({ ...s, nullable: true });
const dateTime = str({ format: 'date-time' });
const uuid = str({ format: 'uuid' });
const list = (item: string): Schema => ({
  type: 'object',
  required: ['object', 'data', 'has_more', 'next_cursor'],
  properties: { object: str({ enum: ['list'] }), data: { type: 'array', items: ref(item) }, has_more: { type: 'boolean' }, next_cursor: nullable(str()) },
});

const SCOPES: string[] = [...API_KEY_SCOPES];
const ROLES: string[] = [...ROLE_NAMES];

/** Component schemas of the management API's bodies and answers. */
export const MANAGEMENT_SCHEMAS: Record<string, Schema> = {
  ApiKey: {
    type: 'object',
    description: 'An API key. The secret is never part of it (only of the answer that creates it); neither is its digest.',
    properties: {
      id: uuid,
      object: str({ enum: ['api_key'] }),
      name: str(),
      mode: str({ enum: ['live', 'test'] }),
      livemode: { type: 'boolean', description: 'false for test-mode keys (never billed)' },
      display_prefix: str({ example: 'sk_live_3fZq' }),
      scopes: { type: 'array', items: str({ enum: SCOPES }) },
      rate_limit_per_minute: nullable({ type: 'integer', minimum: 1 }),
      expires_at: nullable(dateTime),
      last_used_at: nullable({ ...dateTime, description: 'Written in batches (about every 10 s)' }),
      revoked_at: nullable(dateTime),
      rolled_to: nullable({ ...uuid, description: 'The key that replaced this one' }),
      created_by: nullable({ type: 'object', properties: { type: str({ enum: ['user', 'api_key'] }), id: uuid } }),
      created_at: dateTime,
      status: str({ enum: ['active', 'expired', 'revoked', 'rolled'] }),
    },
  },
  ApiKeyWithSecret: { allOf: [ref('ApiKey'), { type: 'object', required: ['secret'], properties: { secret: str({ description: 'Shown this once; store it now', example: 'sk_live_…' }) } }] },
  ApiKeyList: list('ApiKey'),
  CreateApiKey: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: str({ minLength: 1, maxLength: 100 }),
      mode: str({ enum: ['live', 'test'], default: 'live' }),
      scopes: { type: 'array', items: str({ enum: SCOPES }), minItems: 1, uniqueItems: true, default: ['predict'] },
      expires_at: { ...dateTime, description: 'In the future' },
      rate_limit_per_minute: { type: 'integer', minimum: 1, maximum: 1_000_000, description: "Lower than the plan's limit to take effect" },
    },
  },
  UpdateApiKey: {
    type: 'object',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      name: str({ minLength: 1, maxLength: 100 }),
      scopes: { type: 'array', items: str({ enum: SCOPES }), minItems: 1, uniqueItems: true },
      expires_at: nullable({ ...dateTime, description: 'In the future; null removes the expiry' }),
      rate_limit_per_minute: nullable({ type: 'integer', minimum: 1, maximum: 1_000_000, description: 'null removes the override' }),
    },
  },
  RollApiKey: {
    type: 'object',
    additionalProperties: false,
    properties: { grace_period_seconds: { type: 'integer', minimum: 0, maximum: 604_800, default: 86_400, description: 'How long the old secret keeps working' } },
  },
  AuditEntry: {
    type: 'object',
    properties: {
      id: uuid,
      object: str({ enum: ['audit_entry'] }),
      action: str({ example: 'api_key.create' }),
      actor: { type: 'object', properties: { type: str({ enum: ['user', 'api_key'], description: 'user = dashboard session' }), id: uuid } },
      target: { type: 'object', properties: { type: str({ example: 'api_key' }), id: nullable(str()) } },
      ip: nullable(str()),
      changes: nullable({ type: 'object', description: '{before, after} of the fields that changed; never secrets', properties: { before: { type: 'object' }, after: { type: 'object' } } }),
      created_at: dateTime,
    },
  },
  AuditEntryList: list('AuditEntry'),
  Organization: {
    type: 'object',
    properties: { id: uuid, object: str({ enum: ['organization'] }), slug: str(), name: str(), created_at: dateTime, updated_at: dateTime, role: str({ enum: ROLES, description: "The caller's role (sessions only)" }) },
  },
  OrganizationList: list('Organization'),
  Member: {
    type: 'object',
    properties: { id: uuid, object: str({ enum: ['member'] }), user: { type: 'object', properties: { id: uuid, email: str(), name: nullable(str()) } }, role: str({ enum: ROLES }), created_at: dateTime },
  },
  MemberList: list('Member'),
  Invitation: {
    type: 'object',
    properties: {
      id: uuid,
      object: str({ enum: ['invitation'] }),
      email: str(),
      role: str({ enum: ROLES }),
      status: str({ enum: ['pending', 'accepted', 'revoked', 'expired'] }),
      invited_by: nullable(uuid),
      expires_at: dateTime,
      created_at: dateTime,
    },
  },
  InvitationWithToken: { allOf: [ref('Invitation'), { type: 'object', properties: { token: str({ description: 'One-time token for POST /v1/invitations/accept; shown once' }) } }] },
  InvitationList: list('Invitation'),
  SignupAccepted: {
    type: 'object',
    description: 'The same answer whether the email was free (the account was created) or not (nothing changed); log in next.',
    properties: { object: str({ enum: ['signup'] }), email: str() },
  },
  Me: {
    type: 'object',
    properties: {
      object: str({ enum: ['user'] }),
      id: uuid,
      email: str(),
      name: nullable(str()),
      created_at: dateTime,
      memberships: { type: 'array', items: { type: 'object', properties: { org_id: uuid, slug: str(), name: str(), role: str({ enum: ROLES }) } } },
      csrf_token: str({ description: 'Send as X-CSRF-Token on state-changing requests made with the cookie' }),
    },
  },
};

/** Success answers of the routes whose controllers do not name a schema. */
const SUCCESS: Record<string, [status: string, schema: string | null]> = {
  'post /v1/auth/signup': ['202', 'SignupAccepted'],
  'post /v1/auth/login': ['200', 'Me'],
  'post /v1/auth/logout': ['204', null],
  'get /v1/me': ['200', 'Me'],
  'post /v1/orgs': ['201', 'Organization'],
  'get /v1/orgs': ['200', 'OrganizationList'],
  'get /v1/orgs/{org}': ['200', 'Organization'],
  'patch /v1/orgs/{org}': ['200', 'Organization'],
  'get /v1/orgs/{org}/members': ['200', 'MemberList'],
  'get /v1/orgs/{org}/members/{memberId}': ['200', 'Member'],
  'patch /v1/orgs/{org}/members/{memberId}': ['200', 'Member'],
  'delete /v1/orgs/{org}/members/{memberId}': ['204', null],
  'get /v1/orgs/{org}/invitations': ['200', 'InvitationList'],
  'post /v1/orgs/{org}/invitations': ['201', 'InvitationWithToken'],
  'delete /v1/orgs/{org}/invitations/{id}': ['204', null],
};

const PROBLEM_TEXT: Record<string, string> = {
  '400': 'Malformed JSON or a bad query parameter (problem+json)',
  '401': 'No valid API key or session (unauthenticated), or a wrong email/password (invalid_credentials) (problem+json)',
  '403': 'The role or key lacks the permission, or the CSRF token is missing (problem+json: forbidden, csrf_failed)',
  '404': "Unknown organization or object — also another tenant's, and an organization the caller is not a member of (problem+json)",
  '409': 'Conflicts with the current state, e.g. last_owner, a revoked key, a taken slug (problem+json)',
  '422': 'The body or a filter failed validation; errors: [{path, message}] (problem+json)',
  '429': 'Too many failed attempts from this address; see Retry-After (problem+json)',
};

type Operation = { security?: Record<string, string[]>[]; responses?: Record<string, { description?: string; content?: unknown }>; requestBody?: unknown; parameters?: unknown[] };

const bearer = { bearer: [] as string[] };
const cookie = { [SESSION_COOKIE]: [] as string[] };
const cookieCsrf = { [SESSION_COOKIE]: [] as string[], csrf: [] as string[] };

/** Who may call a route: security requirement alternatives (empty = public). */
function securityOf(method: string, path: string): Record<string, string[]>[] {
  const write = method !== 'get';
  if (path === '/v1/auth/signup' || path === '/v1/auth/login') return [];
  if (path === '/v1/invitations/accept') return [{}, cookieCsrf];
  if (path === '/v1/auth/logout') return [cookieCsrf];
  if (path === '/v1/me') return [cookie];
  if (path === '/v1/orgs' && write) return [cookieCsrf];
  return [bearer, write ? cookieCsrf : cookie];
}

function problemsOf(method: string, path: string, op: Operation): string[] {
  const codes = new Set<string>();
  const hasBody = op.requestBody !== undefined || ['post', 'patch', 'put'].includes(method);
  if (hasBody || (op.parameters ?? []).some((p) => (p as { in?: string }).in === 'query')) codes.add('400');
  if (path !== '/v1/auth/signup') codes.add('401'); // sign-up answers 202 whatever the email
  if (path === '/v1/auth/signup' || path === '/v1/auth/login') codes.add('429');
  if (path.startsWith('/v1/orgs')) codes.add('403');
  if (path.startsWith('/v1/orgs/{org}') || path === '/v1/invitations/accept') codes.add('404');
  if (path.startsWith('/v1/orgs') && method !== 'get' && !path.endsWith('/revoke')) codes.add('409');
  if (hasBody || path.endsWith('/audit-log') || path.endsWith('/api-keys')) codes.add('422');
  return [...codes];
}

/**
 * Completes the management routes of the document (accounts, organizations, members,
 * invitations, API keys, audit log): security requirements (API key, or session cookie with
 * X-CSRF-Token on writes), success schemas, and the problem responses each can give.
 */
export function documentManagement(doc: OpenAPIObject): void {
  for (const [path, item] of Object.entries(doc.paths)) {
    if (!/^\/v1\/(orgs|auth|me|invitations)(\/|$)/.test(path)) continue;
    for (const [method, raw] of Object.entries(item as Record<string, unknown>)) {
      if (!['get', 'post', 'patch', 'put', 'delete'].includes(method)) continue;
      const op = raw as Operation;
      op.security = securityOf(method, path);
      const responses = (op.responses ??= {});
      const success = SUCCESS[`${method} ${path}`];
      if (success) {
        const [status, schema] = success;
        // Nest adds a default 200/201 for every handler; replace it with the real one.
        for (const s of ['200', '201']) if (s !== status && responses[s] && !responses[s].content) delete responses[s];
        responses[status] = { description: responses[status]?.description || 'OK', ...(schema ? { content: { 'application/json': { schema: ref(schema) } } } : {}) };
      }
      for (const code of problemsOf(method, path, op)) {
        responses[code] ??= { description: PROBLEM_TEXT[code]!, content: { 'application/problem+json': { schema: ref('Problem') } } };
      }
    }
  }
}
