import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiBearerAuth, ApiCookieAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { ApiKeyVerifier, bearerToken } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { SessionStore, sessionRequired, type SessionUser } from '#platform/identity';
import { CurrentActor, CurrentOrg, CurrentUser, OrganizationsRepository, OrgGuard, RequirePermission, scopesAllow, SessionGuard, UUID, type Actor, type TenancyRequest } from '#platform/tenancy';
import type { Organization } from '#infra/db';
import { pageQuery, parseQuery, toPage } from '#infra/errors';
import { createInvitationBody, createOrgBody, DEFAULT_INVITATION_SECONDS, parseBody, updateMemberBody, updateOrgBody } from '../auth/parse-body.js';
import { ApiContract } from '../openapi/contract.js';
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
  @ApiCookieAuth('stratum_session')
  @ApiOperation({ summary: 'Create an organization', description: 'The logged-in user becomes its owner; it starts on the free plan.' })
  @ApiContract({ body: { schema: createOrgBody, name: 'CreateOrganization' }, responses: { 201: { description: 'The organization', schema: 'Organization' } }, problems: ['conflict'] })
  async create(@CurrentUser() user: SessionUser, @Req() request: TenancyRequest, @Body() body: unknown) {
    return this.orgs.create({ userId: user.userId, ip: request.ip }, parseBody(createOrgBody, body));
  }

  @Get()
  @ApiBearerAuth()
  @ApiCookieAuth('stratum_session')
  @ApiOperation({ summary: 'List organizations', description: "With a session: the user's organizations (with their role). With an API key: the key's own organization." })
  @ApiContract({ responses: { 200: { description: 'The organizations', schema: 'OrganizationList' } } })
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
  @ApiContract({ responses: { 200: { description: 'The organization', schema: 'Organization' } } })
  get(@CurrentOrg() org: Organization, @CurrentActor() actor: Actor) {
    return organizationView(org, actor.kind === 'user' ? actor.role : undefined);
  }

  @Patch()
  @RequirePermission('org:write')
  @ApiOperation({ summary: 'Rename an organization' })
  @ApiContract({ body: { schema: updateOrgBody, name: 'UpdateOrganization' }, responses: { 200: { description: 'The organization', schema: 'Organization' } } })
  update(@CurrentActor() actor: Actor, @Body() body: unknown) {
    return this.orgs.update(actor, parseBody(updateOrgBody, body));
  }

  @Get('members')
  @RequirePermission('members:read')
  @ApiOperation({ summary: 'List members (newest first, cursor pages)' })
  @ApiContract({ query: pageQuery, responses: { 200: { description: 'A page of members', schema: 'MemberList' } } })
  listMembers(@CurrentActor() actor: Actor, @Query() query: unknown) {
    return this.orgs.listMembers(actor, toPage(parseQuery(pageQuery, query)));
  }

  @Get('members/:memberId')
  @RequirePermission('members:read')
  @ApiOperation({ summary: 'Get a member' })
  @ApiContract({ responses: { 200: { description: 'The member', schema: 'Member' } } })
  getMember(@CurrentActor() actor: Actor, @Param('memberId') memberId: string) {
    return this.orgs.getMember(actor, idParam(memberId, 'member'));
  }

  @Patch('members/:memberId')
  @RequirePermission('members:write')
  @ApiOperation({ summary: "Change a member's role", description: 'Only owners grant or take away the owner role; the last owner cannot be demoted (409 last_owner).' })
  @ApiContract({ body: { schema: updateMemberBody, name: 'UpdateMember' }, responses: { 200: { description: 'The member', schema: 'Member' } }, problems: ['last_owner'] })
  updateMember(@CurrentActor() actor: Actor, @Param('memberId') memberId: string, @Body() body: unknown) {
    const { role } = parseBody(updateMemberBody, body);
    return this.orgs.updateMember(actor, idParam(memberId, 'member'), role);
  }

  @Delete('members/:memberId')
  @HttpCode(204)
  @RequirePermission('members:write')
  @ApiOperation({ summary: 'Remove a member', description: 'Only owners remove owners; the last owner cannot be removed (409 last_owner).' })
  @ApiContract({ responses: { 204: { description: 'Removed', schema: null } }, problems: ['last_owner'] })
  async removeMember(@CurrentActor() actor: Actor, @Param('memberId') memberId: string): Promise<void> {
    await this.orgs.removeMember(actor, idParam(memberId, 'member'));
  }

  @Get('invitations')
  @RequirePermission('members:read')
  @ApiOperation({ summary: 'List pending invitations (newest first, cursor pages)' })
  @ApiContract({ query: pageQuery, responses: { 200: { description: 'A page of pending invitations', schema: 'InvitationList' } } })
  listInvitations(@CurrentActor() actor: Actor, @Query() query: unknown) {
    return this.orgs.listInvitations(actor, toPage(parseQuery(pageQuery, query)));
  }

  @Post('invitations')
  @RequirePermission('members:write')
  @ApiOperation({ summary: 'Invite someone', description: 'The response carries the one-time `token` (shown once). Only owners invite owners. Default expiry 7 days, at most 30.' })
  @ApiContract({ body: { schema: createInvitationBody, name: 'CreateInvitation' }, responses: { 201: { description: 'The invitation with its one-time token', schema: 'InvitationWithToken' } }, problems: ['conflict'] })
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
  @ApiContract({ responses: { 204: { description: 'Revoked', schema: null } } })
  async revokeInvitation(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<void> {
    await this.orgs.revokeInvitation(actor, idParam(id, 'invitation'));
  }
}
