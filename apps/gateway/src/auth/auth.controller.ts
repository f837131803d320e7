import { Body, Controller, Get, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiCookieAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { SessionStore, type SessionUser } from '#platform/identity';
import { CurrentUser, SessionGuard, type TenancyRequest } from '#platform/tenancy';
import { AuthService, type MeView } from './auth.service.js';
import { ApiContract } from '../openapi/contract.js';
import { acceptInvitationBody, loginBody, parseBody, signupBody } from './parse-body.js';

@ApiTags('accounts')
@Controller('v1')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly sessions: SessionStore,
  ) {}

  @Post('auth/signup')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Sign up',
    description:
      'Creates the user and an organization (free plan) owned by them, then answers 202; log in next (POST /v1/auth/login) to get a session. An email that already has an account gets the same 202 and nothing changes, so this route never tells whether an email is registered.',
  })
  @ApiContract({ body: { schema: signupBody, name: 'Signup' }, responses: { 202: { description: 'Accepted: the same answer whether the email was free or not; log in next', schema: 'SignupAccepted' } }, problems: ['rate_limited'] })
  async signup(@Body() body: unknown, @Req() request: TenancyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<{ object: 'signup'; email: string }> {
    const parsed = parseBody(signupBody, body);
    await this.auth.signup(parsed, request.ip);
    void reply.header('cache-control', 'no-store');
    return { object: 'signup', email: parsed.email };
  }

  @Post('auth/login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in', description: 'Starts a session. Unknown email and wrong password give the same 401 invalid_credentials; failures are throttled per IP and per account (429 with Retry-After).' })
  @ApiContract({ body: { schema: loginBody, name: 'Login' }, responses: { 200: { description: 'Logged in; body as GET /v1/me', schema: 'Me' } }, problems: ['invalid_credentials', 'rate_limited'] })
  async login(@Body() body: unknown, @Req() request: TenancyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<MeView> {
    const { session, me } = await this.auth.login(parseBody(loginBody, body), request.ip);
    void reply.header('set-cookie', session.cookie).header('cache-control', 'no-store');
    return me;
  }

  @Post('auth/logout')
  @HttpCode(204)
  @UseGuards(SessionGuard)
  @ApiCookieAuth('stratum_session')
  @ApiOperation({ summary: 'Log out', description: 'Deletes the session (needs X-CSRF-Token).' })
  @ApiContract({ body: null, responses: { 204: { description: 'Logged out', schema: null } } })
  async logout(@CurrentUser() user: SessionUser, @Res({ passthrough: true }) reply: FastifyReply): Promise<void> {
    await this.auth.logout(user);
    void reply.header('set-cookie', this.sessions.clearCookie());
  }

  @Get('me')
  @UseGuards(SessionGuard)
  @ApiCookieAuth('stratum_session')
  @ApiOperation({ summary: 'The logged-in user', description: "The user, their organizations with their role in each, and the session's CSRF token (send it as X-CSRF-Token on every state-changing request that uses the cookie)." })
  @ApiContract({ responses: { 200: { description: 'The user', schema: 'Me' } } })
  async me(@CurrentUser() user: SessionUser, @Req() request: TenancyRequest, @Res({ passthrough: true }) reply: FastifyReply): Promise<MeView> {
    void reply.header('cache-control', 'no-store');
    return this.auth.me(user, request.csrfToken ?? '');
  }

  @Post('invitations/accept')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Accept an invitation',
    description: 'With a session: the logged-in user (whose email must be the invited one) joins. Without: creates the account with `password` (or proves an existing one) and starts a session. Unknown, expired, used or revoked tokens: 404 invitation_invalid.',
  })
  @ApiContract({ body: { schema: acceptInvitationBody, name: 'AcceptInvitation' }, responses: { 200: { description: 'Joined; body as GET /v1/me', schema: 'Me' } }, problems: ['invitation_invalid', 'invalid_credentials', 'forbidden', 'csrf_failed', 'conflict', 'rate_limited'] })
  async accept(@Body() body: unknown, @Req() request: TenancyRequest, @Res({ passthrough: true }) reply: FastifyReply) {
    const parsed = parseBody(acceptInvitationBody, body);
    const session = await this.sessions.authenticate(request);
    const user = session ? { userId: session.userId, email: session.email, sessionId: session.sessionId } : null;
    const result = await this.auth.acceptInvitation(parsed, user, request.ip);
    if (result.session) void reply.header('set-cookie', result.session.cookie).header('cache-control', 'no-store');
    return { object: 'invitation_acceptance', org_id: result.orgId, ...(result.me ? { user: result.me } : {}) };
  }
}
