import { Injectable } from '@nestjs/common';
import { writeAudit, type AuditEntry } from '#platform/audit';
import { AppConfig } from '#infra/config';
import { Prisma, PrismaClient, type Organization } from '#infra/db';
import { ProblemError } from '#infra/errors';
import { UsersRepository } from '#platform/identity';
import { ApiKeyVerifier } from '#platform/api-keys';
import { ApiKeysRepository } from '#platform/key-management';
import {
  actorId,
  digestInvitationToken,
  generateInvitationToken,
  InvitationsRepository,
  MembershipsRepository,
  OrganizationsRepository,
  toPage,
  type Actor,
  type Db,
  type OrgScope,
  type PageRequest,
  type RoleName,
} from '#platform/tenancy';
import { slugify } from '../auth/parse-body.js';
import { invitationView, memberView, organizationView, type OrganizationView } from './views.js';

/** The plan a new organization starts on. */
export const DEFAULT_PLAN = 'free';

type Tx = Prisma.TransactionClient;

function audit(tx: Tx, actor: Actor, entry: Omit<AuditEntry, 'orgId' | 'actorType' | 'actorId' | 'ip'>): Promise<string> {
  return writeAudit(tx, { orgId: actor.orgId, actorType: actor.kind, actorId: actorId(actor), ip: actor.ip, ...entry });
}

function memberNotFound(): ProblemError {
  return new ProblemError('not_found', 'No such member in this organization.');
}

function isUniqueViolation(e: unknown): boolean {
  return e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002';
}

const isOwner = (actor: Actor) => actor.kind === 'user' && actor.role === 'owner';

/** Organizations, members and invitations. Every change writes its audit entry in the same transaction. */
@Injectable()
export class OrgsService {
  constructor(
    private readonly config: AppConfig,
    private readonly prisma: PrismaClient,
    private readonly orgs: OrganizationsRepository,
    private readonly memberships: MembershipsRepository,
    private readonly invitations: InvitationsRepository,
    private readonly users: UsersRepository,
    private readonly keys: ApiKeysRepository,
    private readonly verifier: ApiKeyVerifier,
  ) {}

  /**
   * Creates an organization with `userId` as its owner, inside the caller's transaction.
   * Without a slug, one is derived from the name (with a random suffix when taken); an
   * explicit slug that is taken is a 409.
   */
  async createInTx(tx: Tx, user: { userId: string; ip: string | null }, data: { name: string; slug?: string }): Promise<Organization> {
    let slug = data.slug ?? slugify(data.name);
    if (await this.orgs.slugTaken(slug, tx)) {
      if (data.slug !== undefined) throw new ProblemError('conflict', `The slug "${slug}" is taken.`);
      slug = `${slug}-${Math.random().toString(36).slice(2, 8)}`;
    }
    const org = await this.orgs.create({ name: data.name, slug, planKey: DEFAULT_PLAN }, tx);
    const membership = await this.memberships.create({ orgId: org.id }, { userId: user.userId, role: 'owner' }, tx);
    const actor: Actor = { kind: 'user', userId: user.userId, orgId: org.id, role: 'owner', ip: user.ip };
    await audit(tx, actor, { action: 'org.create', targetType: 'organization', targetId: org.id, changes: { after: { name: org.name, slug: org.slug } } });
    await audit(tx, actor, { action: 'member.create', targetType: 'member', targetId: membership.id, changes: { after: { userId: user.userId, role: 'owner' } } });
    return org;
  }

  async create(user: { userId: string; ip: string | null }, data: { name: string; slug?: string }): Promise<OrganizationView> {
    try {
      const org = await this.prisma.$transaction((tx) => this.createInTx(tx, user, data));
      return organizationView(org, 'owner');
    } catch (e) {
      if (isUniqueViolation(e)) throw new ProblemError('conflict', 'That slug was just taken; try another.');
      throw e;
    }
  }

  async listForUser(userId: string): Promise<OrganizationView[]> {
    const rows = await this.memberships.forUser(userId);
    return rows.map((m) => organizationView(m.org, m.role));
  }

  async update(actor: Actor, data: { name: string }): Promise<OrganizationView> {
    const org = await this.prisma.$transaction(async (tx) => {
      const before = await this.orgs.get(actor, tx);
      if (!before) throw new ProblemError('not_found', 'No such organization.');
      const after = await this.orgs.update(actor, data, tx);
      if (before.name !== after.name) {
        await audit(tx, actor, { action: 'org.update', targetType: 'organization', targetId: actor.orgId, changes: { before: { name: before.name }, after: { name: after.name } } });
      }
      return after;
    });
    return organizationView(org, actor.kind === 'user' ? actor.role : undefined);
  }

  // ── members ───────────────────────────────────────────────────────────────

  async listMembers(scope: OrgScope, page: PageRequest) {
    const { items, has_more, next_cursor } = toPage(await this.memberships.list(scope, page), page.limit);
    return { object: 'list' as const, data: items.map(memberView), has_more, next_cursor };
  }

  async getMember(scope: OrgScope, memberId: string) {
    const m = await this.memberships.get(scope, memberId);
    if (!m) throw memberNotFound();
    return memberView(m);
  }

  /**
   * Changes a member's role. Only owners grant or take away the owner role; the last owner
   * cannot be demoted. The organization's row is locked for the transaction, so two
   * concurrent demotions cannot both see "another owner remains".
   */
  async updateMember(actor: Actor, memberId: string, role: RoleName) {
    const updated = await this.prisma.$transaction(async (tx) => {
      await this.orgs.lock(actor, tx);
      const target = await this.memberships.get(actor, memberId, tx);
      if (!target) throw memberNotFound();
      if ((target.role === 'owner' || role === 'owner') && !(await this.isOwnerNow(actor, tx)) && target.role !== role) {
        throw new ProblemError('forbidden', 'Only an owner may grant or take away the owner role.');
      }
      if (target.role === role) return target;
      if (target.role === 'owner') await this.assertAnotherOwner(actor, tx);
      await this.memberships.updateRole(actor, memberId, role, tx);
      await audit(tx, actor, { action: 'member.update', targetType: 'member', targetId: memberId, changes: { before: { role: target.role }, after: { role } } });
      return { ...target, role };
    });
    return memberView(updated);
  }

  /**
   * Removes a member and, in the same transaction, revokes the API keys they created here (and
   * the keys those keys created), each with an audit entry: whoever leaves takes no working
   * secret along. After the commit every gateway drops those keys from its cache.
   */
  async removeMember(actor: Actor, memberId: string): Promise<void> {
    const digests = await this.prisma.$transaction(async (tx) => {
      await this.orgs.lock(actor, tx);
      const target = await this.memberships.get(actor, memberId, tx);
      if (!target) throw memberNotFound();
      if (target.role === 'owner') {
        if (!(await this.isOwnerNow(actor, tx))) throw new ProblemError('forbidden', 'Only an owner may remove an owner.');
        await this.assertAnotherOwner(actor, tx);
      }
      await this.memberships.remove(actor, memberId, tx);
      await audit(tx, actor, { action: 'member.remove', targetType: 'member', targetId: memberId, changes: { before: { userId: target.userId, role: target.role } } });
      return this.keys.revokeCreatedByUser(tx, actor, target.userId, { reason: 'member_removed', member_id: memberId });
    });
    await this.verifier.invalidateEverywhere(digests);
  }

  /** The actor's role re-read under the organization's lock (a concurrent change may have demoted them). */
  private async isOwnerNow(actor: Actor, tx: Db): Promise<boolean> {
    if (!isOwner(actor) || actor.kind !== 'user') return false;
    return (await this.memberships.findByUser(actor, actor.userId, tx))?.role === 'owner';
  }

  private async assertAnotherOwner(scope: OrgScope, tx: Db): Promise<void> {
    if ((await this.memberships.countOwners(scope, tx)) <= 1) {
      throw new ProblemError('last_owner', 'An organization must keep at least one owner: make someone else owner first.');
    }
  }

  // ── invitations ───────────────────────────────────────────────────────────

  async listInvitations(scope: OrgScope, page: PageRequest) {
    const { items, has_more, next_cursor } = toPage(await this.invitations.listPending(scope, page), page.limit);
    const now = new Date();
    return { object: 'list' as const, data: items.map((i) => invitationView(i, now)), has_more, next_cursor };
  }

  /** Creates an invitation; the response carries the one-time token (only its digest is stored). */
  async invite(actor: Actor, data: { email: string; role: RoleName; expiresInSeconds: number }) {
    if (data.role === 'owner' && !isOwner(actor)) throw new ProblemError('forbidden', 'Only an owner may invite an owner.');
    const token = generateInvitationToken();
    const invitation = await this.prisma.$transaction(async (tx) => {
      const existing = await this.users.findByEmail(data.email, tx);
      if (existing && (await this.memberships.findByUser(actor, existing.id, tx))) {
        throw new ProblemError('conflict', 'That person is already a member of this organization.');
      }
      const created = await this.invitations.create(
        actor,
        {
          email: data.email,
          role: data.role,
          tokenDigest: digestInvitationToken(token, this.config.env.API_KEY_PEPPER),
          expiresAt: new Date(Date.now() + data.expiresInSeconds * 1000),
          invitedById: actor.kind === 'user' ? actor.userId : null,
        },
        tx,
      );
      await audit(tx, actor, { action: 'invitation.create', targetType: 'invitation', targetId: created.id, changes: { after: { email: created.email, role: created.role, expiresAt: created.expiresAt.toISOString() } } });
      return created;
    });
    return { ...invitationView(invitation), token };
  }

  async revokeInvitation(actor: Actor, id: string): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      const invitation = await this.invitations.get(actor, id, tx);
      if (!invitation || !(await this.invitations.revoke(actor, id, tx))) throw new ProblemError('not_found', 'No such pending invitation in this organization.');
      await audit(tx, actor, { action: 'invitation.revoke', targetType: 'invitation', targetId: id, changes: { before: { email: invitation.email, role: invitation.role } } });
    });
  }
}
