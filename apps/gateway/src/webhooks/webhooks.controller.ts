import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AppConfig } from '#infra/config';
import { parseQuery, toPage } from '#infra/errors';
import { CurrentActor, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';
import {
  createEndpointBody,
  parseCreateEndpoint,
  parseUpdateEndpoint,
  updateEndpointBody,
  webhookMessagesQuery,
  webhookPageQuery,
  WebhooksService,
  type AttemptView,
  type EndpointView,
  type MessageView,
  type Page,
} from '#platform/webhooks';
import { ApiContract } from '../openapi/contract.js';
import './webhook-views.js';

const noStore = (reply: FastifyReply): void => void reply.header('cache-control', 'no-store');

@ApiTags('webhooks')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org')
export class WebhooksController {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly config: AppConfig,
  ) {}

  @Post('webhook-endpoints')
  @RequirePermission('webhooks:write')
  @ApiOperation({ summary: 'Register a webhook endpoint', description: "`event_types` empty or absent: every event. The answer carries the organization's signing secret (`secret`) when this call created it, shown this once." })
  @ApiContract({ body: { schema: createEndpointBody(), name: 'CreateWebhookEndpoint' }, responses: { 201: { description: 'The endpoint', schema: 'WebhookEndpointCreated' } } })
  async create(@CurrentActor() actor: Actor, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<EndpointView & { secret?: string }> {
    const input = parseCreateEndpoint(body, this.config.env.WEBHOOK_ALLOW_HTTP);
    noStore(reply);
    return this.webhooks.createEndpoint(actor, input);
  }

  @Get('webhook-endpoints')
  @RequirePermission('webhooks:read')
  @ApiOperation({ summary: 'List webhook endpoints, newest first (cursor pages)' })
  @ApiContract({ query: webhookPageQuery, responses: { 200: { description: 'A page of endpoints', schema: 'WebhookEndpointList' } } })
  async list(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<Page<EndpointView>> {
    return this.webhooks.listEndpoints(actor.orgId, toPage(parseQuery(webhookPageQuery, query)));
  }

  @Get('webhook-endpoints/:id')
  @RequirePermission('webhooks:read')
  @ApiOperation({ summary: 'Get a webhook endpoint' })
  @ApiContract({ responses: { 200: { description: 'The endpoint', schema: 'WebhookEndpoint' } }, problems: ['not_found'] })
  async get(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<EndpointView> {
    return this.webhooks.getEndpoint(actor.orgId, id);
  }

  @Patch('webhook-endpoints/:id')
  @RequirePermission('webhooks:write')
  @ApiOperation({ summary: "Change an endpoint's URL, event types, description or enabled flag", description: '`enabled: true` also re-enables an endpoint disabled after a 410 Gone.' })
  @ApiContract({ body: { schema: updateEndpointBody(), name: 'UpdateWebhookEndpoint' }, responses: { 200: { description: 'The endpoint', schema: 'WebhookEndpoint' } }, problems: ['not_found'] })
  async update(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown): Promise<EndpointView> {
    return this.webhooks.updateEndpoint(actor, id, parseUpdateEndpoint(body, this.config.env.WEBHOOK_ALLOW_HTTP));
  }

  @Delete('webhook-endpoints/:id')
  @HttpCode(204)
  @RequirePermission('webhooks:write')
  @ApiOperation({ summary: 'Delete a webhook endpoint (its waiting messages are canceled; messages and attempts stay listable)' })
  @ApiContract({ body: null, responses: { 204: { description: 'Deleted', schema: null } }, problems: ['not_found'] })
  async remove(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    await this.webhooks.deleteEndpoint(actor, id);
  }

  @Get('webhook-endpoints/:id/attempts')
  @RequirePermission('webhooks:read')
  @ApiOperation({ summary: 'Delivery attempts to an endpoint, newest first' })
  @ApiContract({ query: webhookPageQuery, responses: { 200: { description: 'A page of attempts', schema: 'WebhookAttemptList' } }, problems: ['not_found'] })
  async endpointAttempts(@CurrentActor() actor: Actor, @Param('id') id: string, @Query() query: Record<string, unknown>): Promise<Page<AttemptView>> {
    return this.webhooks.listAttempts(actor.orgId, { endpointId: id }, toPage(parseQuery(webhookPageQuery, query)));
  }

  @Get('webhook-secret')
  @RequirePermission('webhooks:read')
  @ApiOperation({ summary: 'Whether the organization has a signing secret, when it was rotated, and until when the previous one still signs (never the secret)' })
  @ApiContract({ responses: { 200: { description: 'The secret, without its value', schema: 'WebhookSecretInfo' } } })
  async secret(@CurrentActor() actor: Actor) {
    return this.webhooks.secretInfo(actor.orgId);
  }

  @Post('webhook-secret/rotate')
  @HttpCode(200)
  @RequirePermission('webhooks:write')
  @ApiOperation({ summary: 'Rotate the signing secret', description: 'Answers the new `whsec_` secret, shown this once. Until `previous_valid_until` every webhook carries two signatures, by the new and the previous secret.' })
  @ApiContract({ body: null, responses: { 200: { description: 'The new secret', schema: 'WebhookSecretRotated' } } })
  async rotate(@CurrentActor() actor: Actor, @Res({ passthrough: true }) reply: FastifyReply) {
    noStore(reply);
    return this.webhooks.rotateSecret(actor);
  }

  @Get('webhook-messages')
  @RequirePermission('webhooks:read')
  @ApiOperation({ summary: 'Webhook messages (one per event and target), newest first; endpoint_id narrows to one endpoint' })
  @ApiContract({ query: webhookMessagesQuery, responses: { 200: { description: 'A page of messages', schema: 'WebhookMessageList' } }, problems: ['not_found'] })
  async messages(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<Page<MessageView>> {
    const q = parseQuery(webhookMessagesQuery, query);
    return this.webhooks.listMessages(actor.orgId, q.endpoint_id !== undefined ? { endpointId: q.endpoint_id } : {}, toPage(q));
  }

  @Get('webhook-messages/:id/attempts')
  @RequirePermission('webhooks:read')
  @ApiOperation({ summary: 'Delivery attempts of a message, newest first' })
  @ApiContract({ query: webhookPageQuery, responses: { 200: { description: 'A page of attempts', schema: 'WebhookAttemptList' } }, problems: ['not_found'] })
  async messageAttempts(@CurrentActor() actor: Actor, @Param('id') id: string, @Query() query: Record<string, unknown>): Promise<Page<AttemptView>> {
    return this.webhooks.listAttempts(actor.orgId, { messageId: id }, toPage(parseQuery(webhookPageQuery, query)));
  }

  @Post('webhook-messages/:id/replay')
  @HttpCode(202)
  @RequirePermission('webhooks:write')
  @ApiOperation({ summary: 'Send a message again now (a new run of the retry schedule)' })
  @ApiContract({ body: null, responses: { 202: { description: 'Queued', schema: 'WebhookReplay' } }, problems: ['not_found', 'conflict'] })
  async replay(@CurrentActor() actor: Actor, @Param('id') id: string) {
    return this.webhooks.replay(actor, id);
  }
}
