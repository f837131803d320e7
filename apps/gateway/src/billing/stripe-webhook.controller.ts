import { Readable } from 'node:stream';
import { Controller, Headers, HttpCode, Post, Req } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest, RequestPayload } from 'fastify';
import { appendRouteHook } from '#infra/http';
import { StripeWebhooks } from '#platform/stripe-billing';
import { ApiContract } from '../openapi/contract.js';
import { STRIPE_WEBHOOK_ROUTE } from '../edge-auth.js';

type RawRequest = FastifyRequest & { rawBody?: Buffer };

const RAW_BODY_HOOK = Symbol('stratum.stripe-raw-body');

/**
 * Keeps the exact bytes of a Stripe webhook's body (the signature covers them, not the parsed
 * JSON): a preParsing hook on that route only reads the payload into `request.rawBody` and
 * hands the JSON parser a copy. The body limit still applies (see bodyLimitOf). Call before the
 * app starts listening: the hook is attached as Fastify registers the route (no other route
 * runs it).
 */
export function installStripeRawBody(app: NestFastifyApplication): void {
  const fastify = app.getHttpAdapter().getInstance();
  const keepRawBody = (request: RawRequest, _reply: FastifyReply, payload: RequestPayload, done: (err: Error | null, value?: RequestPayload) => void): void => {
    const chunks: Buffer[] = [];
    payload.on('data', (c: Buffer) => chunks.push(c));
    payload.once('error', (e: Error) => done(e));
    payload.once('end', () => {
      const raw = Buffer.concat(chunks);
      request.rawBody = raw;
      const copy = Readable.from([raw]) as Readable & { receivedEncodedLength?: number };
      copy.receivedEncodedLength = raw.length;
      done(null, copy);
    });
  };
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (route.url === STRIPE_WEBHOOK_ROUTE && methods.includes('POST')) appendRouteHook(route, 'preParsing', RAW_BODY_HOOK, keepRawBody);
  });
}

@ApiTags('billing')
@Controller()
export class StripeWebhookController {
  constructor(private readonly webhooks: StripeWebhooks) {}

  /** Public (no API key): Stripe calls it; the Stripe-Signature over the raw body is the guard. */
  @Post(STRIPE_WEBHOOK_ROUTE.slice(1))
  @HttpCode(200)
  @ApiOperation({ summary: "Stripe's webhooks (Stripe mode)", description: 'Called by Stripe, not by clients. The `Stripe-Signature` header is checked on the raw body (400 `invalid_signature`: nothing processed); each event id is processed once.' })
  @ApiContract({
    body: { schema: { json: { type: 'object', description: 'A Stripe event' } }, name: 'StripeEvent' },
    responses: { 200: { description: 'Received (also for a repeated delivery of an event already processed)', schema: { json: { type: 'object', properties: { received: { type: 'boolean' }, duplicate: { type: 'boolean' } }, required: ['received', 'duplicate'] } } } },
    problems: ['invalid_signature', 'stripe_not_configured'],
  })
  async receive(@Req() request: RawRequest, @Headers('stripe-signature') signature: string | undefined): Promise<{ received: true; duplicate: boolean }> {
    const r = await this.webhooks.receive(request.rawBody, signature);
    return { received: true, duplicate: r.duplicate };
  }
}
