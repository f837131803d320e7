import { describe, expect, it } from '@jest/globals';
import { bodyLimitOf, edgeAuthOf, refuseNonOctetStream, SIGNATURE_GUARDED_ROUTES } from './edge-auth.js';

describe('edge rules (issue 9 item 4)', () => {
  it('needs a key on key routes, a key or a session on organization routes, a session on session routes', () => {
    expect(edgeAuthOf('POST', '/v1/predictions')).toBe('api_key');
    // Public, guarded by the Stripe-Signature over the raw body.
    expect(edgeAuthOf('POST', '/webhooks/stripe')).toBe('none');
    expect(SIGNATURE_GUARDED_ROUTES).toEqual(['POST /webhooks/stripe']);
    expect(edgeAuthOf('POST', '/v1/predictions/:id/cancel')).toBe('api_key');
    expect(edgeAuthOf('GET', '/v1/features/:name')).toBe('api_key');
    expect(edgeAuthOf('GET', '/v1/models')).toBe('api_key');
    expect(edgeAuthOf('POST', '/v2/models/:name/versions/:version/infer')).toBe('api_key');
    expect(edgeAuthOf('GET', '/v2')).toBe('api_key');
    expect(edgeAuthOf('GET', '/v1/orgs')).toBe('key_or_session');
    expect(edgeAuthOf('POST', '/v1/orgs')).toBe('session');
    expect(edgeAuthOf('PATCH', '/v1/orgs/:org')).toBe('key_or_session');
    expect(edgeAuthOf('POST', '/v1/orgs/:org/api-keys/:id/roll')).toBe('key_or_session');
    expect(edgeAuthOf('GET', '/v1/me')).toBe('session');
    expect(edgeAuthOf('POST', '/v1/auth/logout')).toBe('session');
    for (const open of ['/v1/auth/signup', '/v1/auth/login', '/v1/invitations/accept', '/healthz', '/readyz', '/openapi.json', '/docs']) expect(edgeAuthOf('POST', open)).toBe('none');
    // Prefixes are whole segments: "/v1/predictionsX" is not a key route.
    expect(edgeAuthOf('GET', '/v1/predictionsx')).toBe('none');
    expect(edgeAuthOf('GET', '/v2x')).toBe('none');
    // Probes: the protocol's server health routes need no key (issue 10 item 8).
    expect(edgeAuthOf('GET', '/v2/health/live')).toBe('none');
    expect(edgeAuthOf('GET', '/v2/health/ready')).toBe('none');
  });

  it('lets only application/octet-stream (or no content type) reach the upload route', () => {
    expect(() => refuseNonOctetStream(undefined)).not.toThrow();
    expect(() => refuseNonOctetStream('Application/Octet-Stream; charset=binary')).not.toThrow();
    for (const t of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
      expect(() => refuseNonOctetStream(t)).toThrow(expect.objectContaining({ code: 'unsupported_media_type', detail: expect.stringContaining('application/octet-stream') }));
    }
  });

  it('gives management routes the small limit, prediction routes and uploads the default', () => {
    const small = 65_536;
    for (const route of ['/v1/orgs', '/v1/orgs/:org', '/v1/orgs/:org/invitations', '/v1/orgs/:org/api-keys/:id', '/v1/auth/signup', '/v1/invitations/accept', '/v1/me']) {
      expect(bodyLimitOf('POST', route, small)).toBe(small);
    }
    expect(bodyLimitOf('POST', '/v1/orgs/:org/models/:name/versions/:version', small)).toBeUndefined();
    expect(bodyLimitOf('POST', '/v1/predictions', small)).toBeUndefined();
    expect(bodyLimitOf('POST', '/v2/models/:name/infer', small)).toBeUndefined();
  });
});
