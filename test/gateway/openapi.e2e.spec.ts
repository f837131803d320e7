// Issue 10 item 7: /openapi.json is OpenAPI 3.1, valid for a standard validator, generated from
// the zod schemas that validate requests, and lists exactly the routes the gateway serves.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { validate } from '@readme/openapi-parser';
import { API_KEY_SCOPES } from '#platform/api-keys';
import { PROBLEM_CODES } from '#infra/errors';
import { listFeatures } from '#feature-engine/feature-catalogue';
import { startManagementEnv, type Env } from '../support/management.js';

let env: Env;
let doc: any;

beforeAll(async () => {
  env = await startManagementEnv('oas');
  const r = await env.call('GET', '/openapi.json', null);
  expect(r.status).toBe(200);
  doc = r.json;
}, 120_000);

afterAll(async () => {
  await env?.stop();
});

const HTTP = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

function operations(): { method: string; path: string; op: any }[] {
  return Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([m]) => HTTP.includes(m))
      .map(([method, op]) => ({ method, path, op })),
  );
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and passes @readme/openapi-parser validation', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const result = await validate(structuredClone(doc));
    expect(result).toMatchObject({ valid: true });
  });

  it('lists every route the gateway serves and nothing else', async () => {
    const served = (await (await fetch(`${env.gateway.adminUrl}/routes`)).json()) as { routes: { method: string; url: string }[] };
    // HEAD is served for every GET by Fastify (HTTP semantics); a documented GET covers it. The
    // documentation UI's files (under /docs/) are one documented route; so are the dashboard's (/dashboard/*).
    const fromApp = served.routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url.startsWith('/docs/') ? '/docs/{asset}' : r.url === '/dashboard/*' ? '/dashboard/{path}' : r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    const fromDoc = operations().map(({ method, path }) => `${method.toUpperCase()} ${path}`);
    expect([...new Set(fromApp)].sort()).toEqual([...fromDoc].sort());
    expect(fromApp.length).toBeGreaterThan(30);
  });

  it('has a success answer and problem+json answers naming their codes on every operation', () => {
    for (const { method, path, op } of operations()) {
      const statuses = Object.keys(op.responses);
      expect({ route: `${method} ${path}`, success: statuses.some((s) => s.startsWith('2')) }).toEqual({ route: `${method} ${path}`, success: true });
      // A route without a contract gets Nest's bare default answer: every success but 204 must name its body.
      for (const s of statuses.filter((x) => x.startsWith('2') && x !== '204')) {
        expect({ route: `${method} ${path} ${s}`, body: op.responses[s].content !== undefined || path.startsWith('/docs/') }).toEqual({ route: `${method} ${path} ${s}`, body: true });
      }
      for (const [status, r] of Object.entries(op.responses as Record<string, any>)) {
        // A documented non-problem answer (the probe's 503 {ready: false}) is not a problem.
        if (Number(status) < 400 || path.startsWith('/docs/') || r.content?.['application/json']) continue;
        const schema = r.content?.['application/problem+json']?.schema;
        expect({ route: `${method} ${path} ${status}`, problem: schema !== undefined }).toEqual({ route: `${method} ${path} ${status}`, problem: true });
        for (const code of schema.allOf?.[1]?.properties?.code?.enum ?? []) expect(PROBLEM_CODES[code as keyof typeof PROBLEM_CODES].status).toBe(Number(status));
      }
    }
    // Routes with a body answer its problems; key routes their auth problems.
    const create = doc.paths['/v1/predictions'].post;
    expect(create.responses['400'].content['application/problem+json'].schema.allOf[1].properties.code.enum).toEqual(expect.arrayContaining(['malformed_json', 'invalid_header']));
    expect(create.responses['401'].content['application/problem+json'].schema.allOf[1].properties.code.enum).toEqual(['unauthenticated']);
    expect(create.responses['404'].content['application/problem+json'].schema.allOf[1].properties.code.enum).toEqual(['feature_not_found']);
    // Every route that takes an Idempotency-Key documents what a misused key answers.
    const idempotent = operations().filter(({ op }) => (op.parameters ?? []).some((p: any) => p.in === 'header' && p.name === 'Idempotency-Key'));
    expect(idempotent.length).toBeGreaterThanOrEqual(7);
    for (const { method, path, op } of idempotent) {
      const codes = (status: string) => op.responses[status]?.content?.['application/problem+json']?.schema.allOf[1].properties.code.enum ?? [];
      expect({ route: `${method} ${path}`, codes: [...codes('409'), ...codes('422'), ...codes('400')] }).toEqual({
        route: `${method} ${path}`,
        codes: expect.arrayContaining(['idempotency_in_flight', 'idempotency_key_reused', 'invalid_header']),
      });
    }
    // Probes need no key: the v2 health routes have no security requirement and no 401.
    expect(doc.paths['/v2/health/ready'].get.security).toEqual([]);
    expect(doc.paths['/v2/health/ready'].get.responses['401']).toBeUndefined();
  });

  it('takes bodies and queries from the zod schemas that validate them (one scope list, every feature input)', () => {
    const schemas = doc.components.schemas;
    expect(schemas.CreateApiKey.properties.scopes.items.enum).toEqual([...API_KEY_SCOPES]);
    expect(schemas.ApiKey.properties.scopes.items.enum).toEqual([...API_KEY_SCOPES]);
    expect(schemas.CreateApiKey.additionalProperties).toBe(false);
    expect(doc.paths['/v1/orgs/{org}/api-keys'].post.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/CreateApiKey' });
    // 3.1 has no `nullable`: a nullable field is a type union.
    expect(JSON.stringify(doc)).not.toContain('"nullable"');
    expect(schemas.UpdateApiKey.properties.rate_limit_per_minute.anyOf ?? schemas.UpdateApiKey.properties.rate_limit_per_minute.type).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'null' })]));
    // Query parameters of the audit log, from its zod schema.
    const params = doc.paths['/v1/orgs/{org}/audit-log'].get.parameters.filter((p: any) => p.in === 'query').map((p: any) => p.name);
    expect(params.sort()).toEqual(['action', 'actor_id', 'limit', 'since', 'starting_after', 'target_id', 'until']);
    // One variant per feature version, each with that version's own input schema (contentEncoding is valid in 3.1).
    const variants = schemas.CreatePrediction.oneOf;
    expect(variants).toHaveLength(listFeatures().length);
    for (const f of listFeatures()) {
      const name = `Input_${f.name.replace(/[^A-Za-z0-9]/g, '_')}_v${f.version}`;
      expect(schemas[name]).toEqual(f.input);
      expect(variants).toContainEqual(
        expect.objectContaining({ properties: expect.objectContaining({ feature: { type: 'string', enum: [f.name, `${f.name}@${f.version}`] }, version: { type: 'string', const: f.version }, input: { $ref: `#/components/schemas/${name}` } }) }),
      );
    }
    expect(JSON.stringify(schemas)).toContain('contentEncoding');
    // Every list has the same cursor fields.
    for (const [name, s] of Object.entries(schemas as Record<string, any>)) {
      if (name.endsWith('List')) expect({ name, required: s.required }).toEqual({ name, required: ['object', 'data', 'has_more', 'next_cursor'] });
    }
  });

  it('serves the interactive documentation at /docs', async () => {
    const r = await fetch(`${env.gateway.url}/docs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
  });
});
