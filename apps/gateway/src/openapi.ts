import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { PROBLEM_CODES } from '#infra/errors';
import { listFeatures } from '#feature-engine/feature-catalogue';
import { SESSION_COOKIE } from '#platform/identity';
import { WEBHOOK_EVENTS } from './predictions/create-prediction.body.js';
import { documentManagement, MANAGEMENT_SCHEMAS } from './openapi-management.js';

/** The OpenAPI document: routes from the controllers, request bodies from the feature catalogue. */
export function buildOpenApi(app: NestFastifyApplication, baseUrl: string): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Stratum API')
    .setDescription('Machine-learning inference as a REST API, billed per call. Authenticate with `Authorization: Bearer sk_live_…` (or `sk_test_…`, never billed). Errors are RFC 9457 problem+json with a stable `code`.')
    .setVersion('1')
    .addServer(baseUrl)
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An API key: sk_live_… or sk_test_…' })
    .addCookieAuth(SESSION_COOKIE, { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'Dashboard session (POST /v1/auth/login)' }, SESSION_COOKIE)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: "The session's CSRF token (GET /v1/me → csrf_token); required with the cookie on every state-changing request" }, 'csrf')
    .build();
  const doc = SwaggerModule.createDocument(app, config);
  const schemas = (doc.components ??= {}).schemas ?? (doc.components.schemas = {});
  const variants = listFeatures().map((f) => {
    const name = `Input_${f.name.replace(/[^A-Za-z0-9]/g, '_')}_v${f.version}`;
    schemas[name] = f.input;
    return {
      type: 'object',
      title: `${f.name} v${f.version}`,
      required: ['feature', 'input'],
      additionalProperties: false,
      properties: {
        feature: { type: 'string', enum: [f.name] },
        version: { type: 'string', enum: [f.version] },
        input: { $ref: `#/components/schemas/${name}` },
        webhook: { type: 'string', format: 'uri' },
        webhook_events_filter: { type: 'array', items: { type: 'string', enum: [...WEBHOOK_EVENTS] } },
      },
    };
  });
  schemas['CreatePrediction'] = { oneOf: variants };
  schemas['Problem'] = {
    type: 'object',
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', format: 'uri' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      code: { type: 'string', enum: Object.keys(PROBLEM_CODES) },
      requestId: { type: 'string' },
      instance: { type: 'string' },
      errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
    },
  };
  Object.assign(schemas, MANAGEMENT_SCHEMAS);
  documentManagement(doc);
  return doc;
}

export function mountOpenApi(app: NestFastifyApplication, baseUrl: string): void {
  const doc = buildOpenApi(app, baseUrl);
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'openapi.json', yamlDocumentUrl: 'openapi.yaml' });
}
