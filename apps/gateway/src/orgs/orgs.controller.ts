import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiBearerAuth, ApiBody, ApiCookieAuth, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ApiKeyVerifier, bearerToken } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { Idempotent } from '#platform/idempotency';
import { SessionStore, sessionRequired, type SessionUser } from '#platform/identity';
import { CurrentActor, CurrentOrg, CurrentUser, OrganizationsRepository, OrgGuard, RequirePermission, scopesAllow, SessionGuard, UUID, type Actor, type TenancyRequest } from '#platform/tenancy';
import type { Organization } from '#infra/db';
import { createInvitationBody, createOrgBody, DEFAULT_INVITATION_SECONDS, parseBody, parsePage, updateMemberBody, updateOrgBody } from '../auth/parse-body.js';
import { OrgsService } from './orgs.service.js';
import { organizationView } from './views.js';

/** Ids in paths: anything that is not a uuid cannot exist (404, like an id of another organization). */
function idParam(id: string, what: string): string {
  if (!UUID.test(id)) throw new ProblemError('not_found', `No such ${what} in this organization.`);
  return id.toLowerCase();
}

@ApiTags('organizations')
@Controller('v1/orgs')
export class OrgsController {
  constructor(
    private readonly orgs: OrgsService,
    private readonly verifier: ApiKeyVerifier,
    private readonly sessions: SessionStore,
    private readonly organizations: OrganizationsRepository,
  ) {}

  @Post()
  @UseGuards(SessionGuard)
  @Idempotent()
  @ApiCookieAuth('stratum_session')
  @ApiOperation({ summary: 'Create an organization', description: 'The logged-in user becomes its owner; it starts on the free plan.' })
  @ApiBody({ schema: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' }, slug: { type: 'string' } } } })
  async create(@CurrentUser() user: SessionUser, @Req() request: TenancyRequest, @Body() body: unknown) {
    return this.orgs.create({ userId: user.userId, ip: request.ip }, parseBody(createOrgBody, body));
  }

  @Get()
  @ApiBearerAuth()
  @ApiCookieAuth('stratum_session')
  @ApiOperation({ summary: 'List organizations', description: "With a session: the user's organizations (with their role). With an API key: the key's own organization." })
  async list(@Req() request: TenancyRequest) {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const key = await this.verifier.verify(bearerToken(authorization), request.ip);
      if (!scopesAllow(key.scopes, 'org:read')) throw new ProblemError('forbidden', 'This API key lacks the "org:read" permission.');
      const org = await this.organizations.get({ orgId: key.orgId });
      return { object: 'list', data: org ? [organizationView(org)] : [], has_more: false, next_cursor: null };
    }
    const session = await this.sessions.authenticate(request);
    if (!session) throw sessionRequired();
    return { object: 'list', data: await this.orgs.listForUser(session.userId), has_more: false, next_cursor: null };
  }
}

@ApiTags('organizations')
@ApiBearerAuth()
@ApiCookieAuth('stratum_session')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org')
export class OrgController {
  constructor(private readonly orgs: OrgsService) {}

  @Get()
  @RequirePermission('org:read')
  @ApiOperation({ summary: 'Get an organization' })
  get(@CurrentOrg() org: Organization, @CurrentActor() actor: Actor) {
    return organizationView(org, actor.kind === 'user' ? actor.role : undefined);
  }

  @Patch()
  @RequirePermission('org:write')
  @ApiOperation({ summary: 'Rename an organization' })
  @ApiBody({ schema: { type: 'object', required: ['name'], additionalProperties: false, properties: { name: { type: 'string' } } } })
  update(@CurrentActor() actor: Actor, @Body() body: unknown) {
    return this.orgs.update(actor, parseBody(updateOrgBody, body));
  }

  @Get('members')
  @RequirePermission('members:read')
  @ApiOperation({ summary: 'List members (newest first, cursor pages)' })
  @ApiQuery({ name: 'limit', required: false, description: '1-100, default 20' })
  @ApiQuery({ name: 'starting_after', required: false, description: 'next_cursor of the previous page' })
  listMembers(@CurrentActor() actor: Actor, @Query('limit') limit?: string, @Query('starting_after') after?: string) {
    return this.orgs.listMembers(actor, parsePage(limit, after));
  }

  @Get('members/:memberId')
  @RequirePermission('members:read')
  @ApiOperation({ summary: 'Get a member' })
  getMember(@CurrentActor() actor: Actor, @Param('memberId') memberId: string) {
    return this.orgs.getMember(actor, idParam(memberId, 'member'));
  }

  @Patch('members/:memberId')
  @RequirePermission('members:write')
  @ApiOperation({ summary: "Change a member's role", description: 'Only owners grant or take away the owner role; the last owner cannot be demoted (409 last_owner).' })
  @ApiBody({ schema: { type: 'object', required: ['role'], additionalProperties: false, properties: { role: { type: 'string', enum: ['owner', 'admin', 'developer', 'billing', 'viewer'] } } } })
  updateMember(@CurrentActor() actor: Actor, @Param('memberId') memberId: string, @Body() body: unknown) {
    const { role } = parseBody(updateMemberBody, body);
    return this.orgs.updateMember(actor, idParam(memberId, 'member'), role);
  }

  @Delete('members/:memberId')
  @HttpCode(204)
  @RequirePermission('members:write')
  @ApiOperation({ summary: 'Remove a member', description: 'Only owners remove owners; the last owner cannot be removed (409 last_owner).' })
  async removeMember(@CurrentActor() actor: Actor, @Param('memberId') memberId: string): Promise<void> {
    await this.orgs.removeMember(actor, idParam(memberId, 'member'));
  }

  @Get('invitations')
  @RequirePermission('members:read')
  @ApiOperation({ summary: 'List pending invitations (newest first, cursor pages)' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'starting_after', required: false })
  listInvitations(@CurrentActor() actor: Actor, @Query('limit') limit?: string, @Query('starting_after') after?: string) {
    return this.orgs.listInvitations(actor, parsePage(limit, after));
  }

  @Post('invitations')
  @Idempotent()
  @RequirePermission('members:write')
  @ApiOperation({ summary: 'Invite someone', description: 'The response carries the one-time `token` (shown once). Only owners invite owners. Default expiry 7 days, at most 30.' })
  @ApiBody({ schema: { type: 'object', required: ['email', 'role'], additionalProperties: false, properties: { email: { type: 'string' }, role: { type: 'string' }, expires_in_seconds: { type: 'integer', minimum: 60, maximum: 2592000 } } } })
  async invite(@CurrentActor() actor: Actor, @Body() body: unknown, @Res({ passthrough: true }) reply: FastifyReply) {
    const b = parseBody(createInvitationBody, body);
    const invitation = await this.orgs.invite(actor, { email: b.email, role: b.role, expiresInSeconds: b.expires_in_seconds ?? DEFAULT_INVITATION_SECONDS });
    // The one-time token is in this answer only: nothing in between may keep a copy.
    void reply.header('cache-control', 'no-store');
    return invitation;
  }

  @Delete('invitations/:id')
  @HttpCode(204)
  @RequirePermission('members:write')
  @ApiOperation({ summary: 'Revoke a pending invitation' })
  async revokeInvitation(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    await this.orgs.revokeInvitation(actor, idParam(id, 'invitation'));
  }
}
