import { Readable } from 'node:stream';
import { Controller, Headers, HttpCode, Injectable, Post, Req, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { StripeWebhooks } from '#platform/stripe-billing';
import { ApiContract } from '../openapi/contract.js';
import { STRIPE_WEBHOOK_ROUTE } from '../edge-auth.js';

type RawRequest = FastifyRequest & { rawBody?: Buffer };

/**
 * Keeps the exact bytes of a Stripe webhook's body (the signature covers them, not the parsed
 * JSON): a preParsing hook on that route only reads the payload into `request.rawBody` and
 * hands the JSON parser a copy. The body limit still applies (see bodyLimitOf).
 */
@Injectable()
export class StripeRawBody implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    // Callback style, and the method checked first: the hook runs for every request of the app,
    // and an async one would cost each of them a promise.
    fastify.addHook('preParsing', (request: RawRequest, _reply, payload, done) => {
      if (request.method !== 'POST' || request.routeOptions.url !== STRIPE_WEBHOOK_ROUTE) {
        done(null, payload);
        return;
      }
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
    });
  }
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
