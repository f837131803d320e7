import { Injectable } from '@nestjs/common';
import { PrismaClient, uuidv7, type Prisma } from '#infra/db';
import type { RoleName } from './permissions.js';
import type { Db, OrgScope, PageRequest } from './scope.js';

export type InvitationRecord = Prisma.InvitationGetPayload<object>;

/** Invitations of one organization. Only the token's keyed digest is stored. */
@Injectable()
export class InvitationsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  create(
    scope: OrgScope,
    data: { email: string; role: RoleName; tokenDigest: string; expiresAt: Date; invitedById: string | null },
    db: Db = this.prisma,
  ): Promise<InvitationRecord> {
    return db.invitation.create({ data: { id: uuidv7(), orgId: scope.orgId, ...data } });
  }

  get(scope: OrgScope, id: string, db: Db = this.prisma): Promise<InvitationRecord | null> {
    return db.invitation.findFirst({ where: { id, orgId: scope.orgId } });
  }

  /** Pending invitations (not accepted, not revoked; expired ones included, marked by expiresAt), newest first. */
  listPending(scope: OrgScope, page: PageRequest, db: Db = this.prisma): Promise<InvitationRecord[]> {
    return db.invitation.findMany({
      where: { orgId: scope.orgId, acceptedAt: null, revokedAt: null, ...(page.after ? { id: { lt: page.after } } : {}) },
      orderBy: { id: 'desc' },
      take: page.limit + 1,
    });
  }

  /** Revokes a pending invitation; false when there was none to revoke in this organization. */
  async revoke(scope: OrgScope, id: string, db: Db = this.prisma): Promise<boolean> {
    const r = await db.invitation.updateMany({ where: { id, orgId: scope.orgId, acceptedAt: null, revokedAt: null }, data: { revokedAt: new Date() } });
    return r.count === 1;
  }

  /**
   * The token's invitation, before the tenant is known: the digest is the only handle an
   * invitee has. Returns it only when still usable.
   */
  findUsableByDigest(tokenDigest: string, now: Date, db: Db = this.prisma): Promise<InvitationRecord | null> {
    return db.invitation.findFirst({ where: { tokenDigest, acceptedAt: null, revokedAt: null, expiresAt: { gt: now } } });
  }

  /** Marks it accepted exactly once (false when another request used it first). */
  async markAccepted(scope: OrgScope, id: string, now: Date, db: Db = this.prisma): Promise<boolean> {
    const r = await db.invitation.updateMany({ where: { id, orgId: scope.orgId, acceptedAt: null, revokedAt: null, expiresAt: { gt: now } }, data: { acceptedAt: now } });
    return r.count === 1;
  }
}
