import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { z } from 'zod';
import { PROBLEM_CODES, type ProblemCode } from '#infra/errors';
import { FeatureCatalogue } from '#feature-engine/feature-catalogue';
import { SESSION_COOKIE } from '#platform/identity';
import { edgeAuthOf } from './edge-auth.js';
import { contractOf, registerContract, type ContractSchema, type JsonSchema, type RouteContract } from './openapi/contract.js';
import { viewSchemas } from './openapi/views.js';
import { createPredictionBody } from './predictions/create-prediction.body.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), as a request would be written (the input side of transforms). */
export function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as JsonSchema;
  return rest;
}

function schemaOf(s: ContractSchema): JsonSchema {
  if (typeof s === 'string') return ref(s);
  if ('json' in s && !(s instanceof z.ZodType)) return s.json;
  return jsonSchemaOf(s);
}

/** The OpenAPI path "/v1/orgs/{org}" as Fastify's pattern "/v1/orgs/:org". */
export function fastifyPattern(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}

const bearer = { bearer: [] as string[] };
const cookie = { [SESSION_COOKIE]: [] as string[] };
const cookieCsrf = { [SESSION_COOKIE]: [] as string[], csrf: [] as string[] };

/** Who may call a route (alternatives; [] = public), from the same edge rule that authenticates it. */
function securityOf(method: string, route: string): Record<string, string[]>[] {
  const write = method !== 'get' && method !== 'head';
  if (route === '/v1/invitations/accept') return [{}, cookieCsrf];
  switch (edgeAuthOf(method.toUpperCase(), route)) {
    case 'api_key':
      return [bearer];
    case 'key_or_session':
      return [bearer, write ? cookieCsrf : cookie];
    case 'session':
      return [write ? cookieCsrf : cookie];
    default:
      return [];
  }
}

/**
 * The problem codes a route can answer: the ones its edge rule, body, query and path parameters
 * imply (the same rules that produce them), plus the route's own from its contract.
 */
export function problemCodesOf(method: string, route: string, contract: RouteContract | undefined, opts: { idempotent?: boolean } = {}): ProblemCode[] {
  const write = method !== 'get' && method !== 'head';
  const codes = new Set<ProblemCode>(contract?.problems ?? []);
  // @Idempotent() routes: a malformed key, a key reused with another body, a retry while the first runs.
  if (opts.idempotent) codes.add('invalid_header').add('idempotency_key_reused').add('idempotency_in_flight');
  const auth = edgeAuthOf(method.toUpperCase(), route);
  if (auth !== 'none') codes.add('unauthenticated');
  // Failed key checks are throttled per address; a key lacks a scope or a role a permission.
  if (auth === 'api_key' || auth === 'key_or_session') codes.add('rate_limited').add('forbidden');
  if ((auth === 'session' || auth === 'key_or_session') && write) codes.add('csrf_failed').add('forbidden');
  // A path parameter over 100 characters names nothing.
  if (route.includes(':')) codes.add('not_found');
  // No NUL character in path, query or body, on every route.
  codes.add('validation_failed');
  const body = contract?.body;
  if (body) {
    codes.add('payload_too_large').add('unsupported_media_type');
    if ((body.contentType ?? 'application/json') === 'application/json') codes.add('malformed_json');
  }
  return [...codes].sort((a, b) => PROBLEM_CODES[a].status - PROBLEM_CODES[b].status || a.localeCompare(b));
}

const problemSchema = (codes: string[]): JsonSchema => ({ allOf: [ref('Problem'), { type: 'object', properties: { code: { enum: codes } } }] });

type Operation = {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string }[];
  requestBody?: unknown;
  responses: Record<string, { description: string; content?: Record<string, { schema: JsonSchema }> }>;
};

/** Applies a route's contract and problems to its operation. */
function completeOperation(method: string, path: string, op: Operation, schemas: Record<string, JsonSchema>): void {
  const route = fastifyPattern(path);
  const contract = op.operationId !== undefined ? contractOf(op.operationId) : undefined;
  op.security = securityOf(method, route);
  if (contract?.body) {
    const { schema, name, contentType = 'application/json', required = true } = contract.body;
    let s = schemaOf(schema);
    if (name !== undefined) {
      schemas[name] = s;
      s = ref(name);
    }
    op.requestBody = { required, content: { [contentType]: { schema: s } } };
  } else if (contract) delete op.requestBody;
  if (contract?.query) {
    const params = (op.parameters ?? []).filter((p) => p.in !== 'query');
    const shape = contract.query.shape as Record<string, z.ZodType>;
    for (const [name, field] of Object.entries(shape)) {
      const { description, ...schema } = jsonSchemaOf(field);
      params.push({ name, in: 'query', required: !field.safeParse(undefined).success, schema, ...(description !== undefined ? { description } : {}) } as never);
    }
    op.parameters = params;
  }
  const responses = op.responses;
  if (contract) {
    for (const status of Object.keys(responses)) if (status.startsWith('2')) delete responses[status];
    for (const [status, r] of Object.entries(contract.responses)) {
      responses[status] = { description: r.description, ...(r.schema !== null ? { content: { [r.contentType ?? 'application/json']: { schema: schemaOf(r.schema) } } } : {}) };
    }
  }
  const byStatus = new Map<number, string[]>();
  const idempotent = (op.parameters ?? []).some((p) => 'in' in p && p.in === 'header' && p.name === 'Idempotency-Key');
  for (const code of problemCodesOf(method, route, contract, { idempotent })) {
    const status = PROBLEM_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  for (const [status, codes] of byStatus) {
    const said = responses[String(status)]?.description;
    const list = codes.map((c) => `\`${c}\``).join(', ');
    responses[String(status)] = { description: said ? `${said} (problem codes: ${list})` : `Problem: ${list}`, content: { 'application/problem+json': { schema: problemSchema(codes) } } };
  }
  // A problem a controller describes in prose only still gets the problem schema.
  for (const [status, r] of Object.entries(responses)) if (Number(status) >= 400 && !r.content) r.content = { 'application/problem+json': { schema: ref('Problem') } };
}

/** The document's own routes (mounted by mountOpenApi after the document is built). */
const SELF: Record<string, unknown> = {
  '/openapi.json': { get: { operationId: 'openapi_json', tags: ['docs'], summary: 'This document (OpenAPI 3.1, JSON)', responses: { '200': { description: 'The document', content: { 'application/json': { schema: { type: 'object' } } } } } } },
  '/openapi.yaml': { get: { operationId: 'openapi_yaml', tags: ['docs'], summary: 'This document (OpenAPI 3.1, YAML)', responses: { '200': { description: 'The document', content: { 'text/yaml': { schema: { type: 'string' } } } } } } },
  '/docs': { get: { operationId: 'docs', tags: ['docs'], summary: 'Interactive documentation of this document (HTML)', responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
  '/docs/{asset}': {
    get: {
      operationId: 'docs_asset',
      tags: ['docs'],
      summary: 'Files of the interactive documentation',
      parameters: [{ name: 'asset', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { '200': { description: 'A file' }, '404': { description: 'No such file', content: { 'application/problem+json': { schema: ref('Problem') } } } },
    },
  },
  '/dashboard': { get: { operationId: 'dashboard', tags: ['docs'], summary: "The tenants' dashboard (a single-page app; it uses this API with the session cookie)", responses: { '200': { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } } } },
  '/dashboard/{path}': {
    get: {
      operationId: 'dashboard_path',
      tags: ['docs'],
      summary: "The dashboard's files (hashed assets, cached for a year) and pages (any other path: the app's index.html)",
      parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        '200': { description: 'A file or the app', content: { 'text/html': { schema: { type: 'string' } }, 'text/javascript': { schema: { type: 'string' } } } },
        '404': { description: 'No such asset (or the dashboard is not built)', content: { 'application/problem+json': { schema: ref('Problem') } } },
      },
    },
  },
};

registerContract('HealthController_healthz', { responses: { 200: { description: 'Alive', schema: { json: { type: 'object', properties: { status: { const: 'ok' } } } } } } });
registerContract('HealthController_readyz', {
  responses: {
    200: { description: 'Ready', schema: { json: { type: 'object', properties: { status: { const: 'ready' } } } } },
    503: { description: 'Not ready (the reasons are on the admin listener)', schema: { json: { type: 'object', properties: { status: { const: 'not_ready' } } } } },
  },
});

/** The OpenAPI 3.1 document: paths from the controllers, schemas from the zod schemas that validate and the views that answer. */
export function buildOpenApi(app: NestFastifyApplication, baseUrl: string): Record<string, unknown> {
  const config = new DocumentBuilder()
    .setTitle('Stratum API')
    .setDescription(
      'Machine-learning inference as a REST API, billed per call. Authenticate with `Authorization: Bearer sk_live_…` (or `sk_test_…`, never billed). Errors are RFC 9457 problem+json with a stable `code`; each `type` is a page of this server (`/problems/{code}`).',
    )
    .setVersion('1')
    .addServer(baseUrl)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key: sk_live_… or sk_test_…' })
    .addCookieAuth(SESSION_COOKIE, { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Dashboard session (POST /v1/auth/login)' }, SESSION_COOKIE)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: "The session's CSRF token (GET /v1/me → csrf_token); required with the cookie on every state-changing request" }, 'csrf')
    .build();
  const doc = SwaggerModule.createDocument(app, config) as unknown as { openapi: string; paths: Record<string, Record<string, unknown>>; components: { schemas?: Record<string, JsonSchema> } };
  doc.openapi = '3.1.0';
  const schemas: Record<string, JsonSchema> = viewSchemas();
  doc.components.schemas = schemas;

  // POST /v1/predictions: the zod envelope, one variant per feature version with that version's input
  // schema (the version pinned by `version` or as `feature: "name@version"`; a call without one runs the default).
  const envelope = jsonSchemaOf(createPredictionBody) as JsonSchema & { properties: Record<string, JsonSchema> };
  const features = app.get(FeatureCatalogue);
  schemas['CreatePrediction'] = {
    oneOf: features.list().map((f) => {
      const name = `Input_${f.name.replace(/[^A-Za-z0-9]/g, '_')}_v${f.version}`;
      schemas[name] = f.input;
      const isDefault = features.defaultVersion(f.name) === f;
      return {
        ...envelope,
        title: `${f.name} v${f.version}${isDefault ? ' (default)' : ''}`,
        properties: {
          ...envelope.properties,
          feature: { type: 'string', enum: [f.name, `${f.name}@${f.version}`] },
          version: isDefault ? { type: 'string', const: f.version } : { type: 'string', const: f.version, description: 'Required unless feature names the version' },
          input: ref(name),
        },
      };
    }),
  };

  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method] as Operation | undefined;
      if (op) completeOperation(method, path, op, schemas);
    }
  }
  Object.assign(doc.paths, SELF);
  return doc;
}

export function mountOpenApi(app: NestFastifyApplication, baseUrl: string): void {
  const doc = buildOpenApi(app, baseUrl);
  SwaggerModule.setup('docs', app, doc as never, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
}
