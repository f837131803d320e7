import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { writeAudit } from '#platform/audit';
import { AppConfig } from '#infra/config';
import { Prisma, PrismaClient, type User } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { hashPassword, SessionStore, UsersRepository, verifyPassword, type SessionUser, type StartedSession } from '#platform/identity';
import { RedisClient } from '#infra/redis';
import { digestInvitationToken, InvitationsRepository, isInvitationToken, isRole, MembershipsRepository, ROLE_PERMISSIONS, type Permission } from '#platform/tenancy';
import { FailureThrottle } from '#infra/throttle';
import { OrgsService } from '../orgs/orgs.service.js';

export function invalidCredentials(): ProblemError {
  // One answer for an unknown email, a wrong password and a user without a password.
  return new ProblemError('invalid_credentials', 'The email or the password is not right.');
}

export function invitationInvalid(): ProblemError {
  // One answer for unknown, expired, used, revoked and someone else's invitations.
  return new ProblemError('invitation_invalid', 'This invitation is not valid (unknown, expired, already used or revoked).');
}

export interface MeView {
  object: 'user';
  id: string;
  email: string;
  name: string | null;
  created_at: string;
  /** `permissions`: what the role grants (the matrix of #platform/tenancy), so a client offers only what the API allows. */
  memberships: { org_id: string; slug: string; name: string; role: string; permissions: readonly Permission[] }[];
  csrf_token: string;
}

function isUniqueViolation(e: unknown): boolean {
  return e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002';
}

/** Sign-up, log-in, sessions and accepting invitations. */
@Injectable()
export class AuthService {
  private readonly byIp: FailureThrottle;
  private readonly byAccount: FailureThrottle;

  constructor(
    private readonly config: AppConfig,
    private readonly prisma: PrismaClient,
    private readonly users: UsersRepository,
    private readonly sessions: SessionStore,
    private readonly memberships: MembershipsRepository,
    private readonly invitations: InvitationsRepository,
    private readonly orgs: OrgsService,
    redis: RedisClient,
  ) {
    const limit = config.env.AUTH_THROTTLE_PER_MINUTE;
    this.byIp = new FailureThrottle(redis, { name: 'login-ip', limit, windowSeconds: 60, ipSubjects: true });
    this.byAccount = new FailureThrottle(redis, { name: 'login-account', limit, windowSeconds: 60 });
  }

  /**
   * Checks a password with the throttles around it: 429 past AUTH_THROTTLE_PER_MINUTE
   * failures per IP or per email; unknown email and wrong password fail identically
   * (same body, same argon2 work). Returns the user on success.
   */
  private async checkPassword(email: string, password: string, ip: string): Promise<User> {
    await this.byIp.check(ip);
    await this.byAccount.check(email);
    const user = await this.users.findByEmail(email);
    const ok = await verifyPassword(user?.passwordHash, password);
    if (!user || !ok) {
      await this.byIp.fail(ip);
      await this.byAccount.fail(email);
      throw invalidCredentials();
    }
    await this.byAccount.reset(email);
    return user;
  }

  async login(body: { email: string; password: string }, ip: string): Promise<{ session: StartedSession; me: MeView }> {
    const user = await this.checkPassword(body.email, body.password, ip);
    return this.startSession(user);
  }

  /**
   * Signs up: creates the user and their first organization (owner, "free" plan). It answers
   * the same whatever the email: an email that already has an account (with the right password
   * or not) changes nothing, costs the same work (argon2 and the same writes, rolled back) and
   * gives the same answer, so the route never says "this email exists" (see docs/DECISIONS.md).
   * It starts no session: the client logs in next (POST /v1/auth/login). Returns whether an
   * account was created (never shown to the caller).
   */
  async signup(body: { email: string; password: string; name?: string | undefined; organization_name?: string | undefined }, ip: string): Promise<boolean> {
    await this.byIp.check(ip);
    const passwordHash = await hashPassword(body.password);
    const taken = (await this.users.findByEmail(body.email)) !== null;
    const display = body.name ?? body.email.split('@')[0] ?? 'My';
    const orgName = body.organization_name ?? `${display}'s organization`.slice(0, 100);
    try {
      await this.prisma.$transaction(async (tx) => {
        // A taken email does the same writes under a placeholder address inside a savepoint,
        // rolls them back to it and commits (paying the same WAL flush): the answer takes the
        // same time either way (measured: 36 vs 64 ms median without this).
        if (taken) await tx.$executeRaw`SAVEPOINT signup_taken`;
        const email = taken ? `${randomUUID()}@signup.invalid` : body.email;
        const created = await this.users.create({ email, name: body.name ?? null, passwordHash }, tx);
        await this.orgs.createInTx(tx, { userId: created.id, ip }, { name: orgName });
        if (taken) await tx.$executeRaw`ROLLBACK TO SAVEPOINT signup_taken`;
      });
    } catch (e) {
      // The same email signed up concurrently: answer as for any sign-up.
      if (isUniqueViolation(e)) return false;
      throw e;
    }
    return !taken;
  }

  async logout(user: SessionUser): Promise<void> {
    await this.sessions.destroy(user.sessionId);
  }

  async me(user: SessionUser, csrfToken: string): Promise<MeView> {
    const row = await this.users.findById(user.userId);
    if (!row) {
      // The user was deleted while the session lived on.
      await this.sessions.destroy(user.sessionId);
      throw new ProblemError('unauthenticated', 'Log in again.');
    }
    return this.meView(row, csrfToken);
  }

  private async startSession(user: User): Promise<{ session: StartedSession; me: MeView }> {
    const session = await this.sessions.start({ userId: user.id, email: user.email });
    return { session, me: await this.meView(user, session.csrfToken) };
  }

  private async meView(user: User, csrfToken: string): Promise<MeView> {
    const memberships = await this.memberships.forUser(user.id);
    return {
      object: 'user',
      id: user.id,
      email: user.email,
      name: user.name,
      created_at: user.createdAt.toISOString(),
      memberships: memberships.map((m) => ({ org_id: m.org.id, slug: m.org.slug, name: m.org.name, role: m.role, permissions: isRole(m.role) ? ROLE_PERMISSIONS[m.role] : [] })),
      csrf_token: csrfToken,
    };
  }

  /**
   * Accepts an invitation. With a session, the session's user joins (the invitation's email
   * must be theirs). Without, a new user is created with the invitation's email and the given
   * password (or, when that email already has an account, the password must be its own) and
   * a session starts. The invitation is consumed in the same transaction as the membership.
   */
  async acceptInvitation(
    body: { token: string; password?: string | undefined; name?: string | undefined },
    sessionUser: SessionUser | null,
    ip: string,
  ): Promise<{ me: MeView | null; session: StartedSession | null; orgId: string }> {
    await this.byIp.check(ip);
    if (!isInvitationToken(body.token)) {
      await this.byIp.fail(ip);
      throw invitationInvalid();
    }
    const now = new Date();
    const invitation = await this.invitations.findUsableByDigest(digestInvitationToken(body.token, this.config.env.API_KEY_PEPPER), now);
    if (!invitation) {
      await this.byIp.fail(ip);
      throw invitationInvalid();
    }
    if (sessionUser && sessionUser.email !== invitation.email) throw invitationInvalid();

    let user: User | null = sessionUser ? await this.users.findById(sessionUser.userId) : await this.users.findByEmail(invitation.email);
    if (!sessionUser && user) {
      // The invitee already has an account: they prove it with its password.
      if (body.password === undefined) throw new ProblemError('validation_failed', 'password is required.', { extensions: { errors: [{ path: '/password', message: 'required' }] } });
      user = await this.checkPassword(invitation.email, body.password, ip);
    }
    if (!sessionUser && !user && body.password === undefined) {
      throw new ProblemError('validation_failed', 'Choose a password for the new account.', { extensions: { errors: [{ path: '/password', message: 'required' }] } });
    }
    if (sessionUser && !user) throw invitationInvalid();
    const passwordHash = user ? null : await hashPassword(body.password!);
    const scope = { orgId: invitation.orgId };

    try {
      user = await this.prisma.$transaction(async (tx) => {
        if (!(await this.invitations.markAccepted(scope, invitation.id, now, tx))) throw invitationInvalid();
        const joiner = user ?? (await this.users.create({ email: invitation.email, name: body.name ?? null, passwordHash }, tx));
        if (await this.memberships.findByUser(scope, joiner.id, tx)) throw new ProblemError('conflict', 'You are already a member of this organization.');
        const membership = await this.memberships.create(scope, { userId: joiner.id, role: invitation.role }, tx);
        await writeAudit(tx, {
          orgId: invitation.orgId,
          actorType: 'user',
          actorId: joiner.id,
          action: 'invitation.accept',
          targetType: 'invitation',
          targetId: invitation.id,
          ip,
          changes: { after: { memberId: membership.id, email: invitation.email, role: invitation.role } },
        });
        return joiner;
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw invitationInvalid();
      throw e;
    }
    if (sessionUser) return { me: null, session: null, orgId: invitation.orgId };
    const started = await this.startSession(user);
    return { ...started, orgId: invitation.orgId };
  }
}
