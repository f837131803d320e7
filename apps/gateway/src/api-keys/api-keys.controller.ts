import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  ApiKeysService,
  apiKeyListQuery,
  createApiKeyBody,
  parseApiKeyListQuery,
  rollApiKeyBody,
  updateApiKeyBody,
  parseCreateApiKey,
  parseRollApiKey,
  parseUpdateApiKey,
  type ApiKeyPage,
  type ApiKeyView,
  type ApiKeyWithSecret,
} from '#platform/key-management';
import { ApiContract } from '../openapi/contract.js';
import { CurrentActor, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';

/** Responses that carry a secret must never be cached by anything in between. */
function noStore(reply: FastifyReply): void {
  void reply.header('cache-control', 'no-store');
}

@ApiTags('api-keys')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @RequirePermission('keys:write')
  @ApiOperation({
    summary: 'Create an API key',
    description: 'Answers the key with its `secret`, shown this once only. A key actor may only grant scopes it holds; only owners, admins and `admin` keys may grant `admin`.',
  })
  @ApiContract({ body: { schema: createApiKeyBody(), name: 'CreateApiKey' }, responses: { 201: { description: 'The new key with its secret', schema: 'ApiKeyWithSecret' } } })
  async create(@CurrentActor() actor: Actor, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<ApiKeyWithSecret> {
    const input = parseCreateApiKey(body);
    const key = await this.keys.create(actor, input);
    noStore(reply);
    return key;
  }

  @Get()
  @RequirePermission('keys:read')
  @ApiOperation({ summary: 'List API keys, newest first (cursor pages); revoked keys only with include_revoked=true' })
  @ApiContract({ query: apiKeyListQuery, responses: { 200: { description: 'A page of keys', schema: 'ApiKeyList' } } })
  async list(@CurrentActor() actor: Actor, @Query() query: Record<string, unknown>): Promise<{ object: 'list' } & ApiKeyPage> {
    const { filter, page } = parseApiKeyListQuery(query);
    return { object: 'list', ...(await this.keys.list(actor, filter, page)) };
  }

  @Get(':id')
  @RequirePermission('keys:read')
  @ApiOperation({ summary: 'Get an API key' })
  @ApiContract({ responses: { 200: { description: 'The key', schema: 'ApiKey' } }, problems: ['api_key_not_found'] })
  async get(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.keys.get(actor, id);
  }

  @Patch(':id')
  @RequirePermission('keys:write')
  @ApiOperation({ summary: 'Change the name, scopes, expiry or rate limit of a key', description: '`expires_at: null` removes the expiry, `rate_limit_per_minute: null` the override.' })
  @ApiContract({ body: { schema: updateApiKeyBody(), name: 'UpdateApiKey' }, responses: { 200: { description: 'The key', schema: 'ApiKey' } }, problems: ['api_key_not_found', 'conflict', 'key_not_active'] })
  @ApiResponse({ status: 409, description: '`conflict` for a revoked key; `key_not_active` for a rolled (in its grace period) or expired key' })
  async update(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown): Promise<ApiKeyView> {
    const patch = parseUpdateApiKey(body);
    return this.keys.update(actor, id, patch);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @RequirePermission('keys:write')
  @ApiOperation({
    summary: 'Revoke a key (idempotent); it stops working on every gateway within about a second',
    description: 'Needs the right to grant all of the key\'s scopes, like a change or a roll; a test-mode key never revokes a live key.',
  })
  @ApiContract({ body: null, responses: { 200: { description: 'The revoked key', schema: 'ApiKey' } }, problems: ['api_key_not_found'] })
  async revoke(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<ApiKeyView> {
    return this.keys.revoke(actor, id);
  }

  @Post(':id/roll')
  @RequirePermission('keys:write')
  @ApiOperation({
    summary: 'Roll a key: a new secret with the same name, mode, scopes and limits',
    description: 'The old key keeps working for `grace_period_seconds` (0-604800, default 86400; never beyond its own expiry) and then expires.',
  })
  @ApiContract({
    body: { schema: rollApiKeyBody, name: 'RollApiKey', required: false },
    responses: { 201: { description: 'The new key with its secret', schema: 'ApiKeyWithSecret' } },
    problems: ['api_key_not_found', 'conflict', 'key_not_active'],
  })
  async roll(@CurrentActor() actor: Actor, @Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply): Promise<ApiKeyWithSecret> {
    const { graceSeconds } = parseRollApiKey(body);
    const key = await this.keys.roll(actor, id, graceSeconds);
    noStore(reply);
    return key;
  }
}
