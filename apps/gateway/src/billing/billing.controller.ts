import { Body, Controller, Get, HttpCode, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { parseQuery } from '#infra/errors';
import { BillingService, checkoutBody, type BillingOverview, type InvoiceView } from '#platform/stripe-billing';
import { CurrentActor, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';
import { ApiContract } from '../openapi/contract.js';
import './billing-views.js';

const noStore = (reply: FastifyReply): void => void reply.header('cache-control', 'no-store');

const invoicesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20).describe('Page size (1-100)'),
  starting_after: z.string().max(255).optional().describe('The next_cursor of the previous page'),
});

@ApiTags('billing')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org/billing')
export class BillingController {
  constructor(private readonly billing: BillingService) {}

  @Get()
  @RequirePermission('billing:read')
  @ApiOperation({ summary: "The organization's billing mode and status", description: '`status`: active, past_due (a payment failed; service continues until `grace_until`) or suspended (predictions answer 402 org_suspended).' })
  @ApiContract({ responses: { 200: { description: 'Billing status', schema: 'Billing' } } })
  async get(@CurrentActor() actor: Actor): Promise<BillingOverview> {
    return this.billing.overview(actor.orgId);
  }

  @Post('checkout')
  @HttpCode(200)
  @RequirePermission('billing:write')
  @ApiOperation({ summary: 'A Stripe Checkout Session to subscribe to a plan (Stripe mode)', description: 'Answers the URL to send the user to. 409 stripe_not_configured in ledger-only mode.' })
  @ApiContract({ body: { schema: checkoutBody(), name: 'BillingCheckout' }, responses: { 200: { description: 'The Checkout URL', schema: 'BillingUrl' } }, problems: ['stripe_not_configured'] })
  async checkout(@CurrentActor() actor: Actor, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<{ url: string }> {
    noStore(reply);
    return this.billing.checkout(actor.orgId, body);
  }

  @Post('portal')
  @HttpCode(200)
  @RequirePermission('billing:write')
  @ApiOperation({ summary: 'A Stripe Customer Portal session (Stripe mode)', description: 'Answers the URL of the portal (payment methods, invoices, cancellation). 409 stripe_not_configured in ledger-only mode.' })
  @ApiContract({ body: null, responses: { 200: { description: 'The portal URL', schema: 'BillingUrl' } }, problems: ['stripe_not_configured'] })
  async portal(@CurrentActor() actor: Actor, @Res({ passthrough: true }) reply: FastifyReply): Promise<{ url: string }> {
    noStore(reply);
    return this.billing.portal(actor.orgId);
  }

  @Get('invoices')
  @RequirePermission('billing:read')
  @ApiOperation({ summary: "The organization's Stripe invoices, newest first", description: 'Empty in ledger-only mode.' })
  @ApiContract({ query: invoicesQuery, responses: { 200: { description: 'A page of invoices', schema: 'InvoiceList' } } })
  async invoices(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<{ object: 'list'; data: InvoiceView[]; has_more: boolean; next_cursor: string | null }> {
    const q = parseQuery(invoicesQuery, query);
    return this.billing.invoices(actor.orgId, q.limit, q.starting_after);
  }
}
