import { Injectable } from '@nestjs/common';
import { PrismaClient, uuidv7, type Membership, type Organization, type User } from '#infra/db';
import type { RoleName } from './permissions.js';
import type { Db, OrgScope, PageRequest } from './scope.js';

export type MemberRecord = Membership & { user: Pick<User, 'id' | 'email' | 'name'> };

const withUser = { user: { select: { id: true, email: true, name: true } } } as const;

/** Memberships of users in organizations, always within one organization's scope. */
@Injectable()
export class MembershipsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The membership of a user in the scope's organization, or null. */
  findByUser(scope: OrgScope, userId: string, db: Db = this.prisma): Promise<Membership | null> {
    return db.membership.findUnique({ where: { orgId_userId: { orgId: scope.orgId, userId } } });
  }

  /** A membership by its id, only within the scope's organization. */
  get(scope: OrgScope, memberId: string, db: Db = this.prisma): Promise<MemberRecord | null> {
    return db.membership.findFirst({ where: { id: memberId, orgId: scope.orgId }, include: withUser });
  }

  /** Oldest first would surprise nobody, but every list of the API is newest first (ids are UUIDv7). */
  list(scope: OrgScope, page: PageRequest, db: Db = this.prisma): Promise<MemberRecord[]> {
    return db.membership.findMany({
      where: { orgId: scope.orgId, ...(page.after ? { id: { lt: page.after } } : {}) },
      orderBy: { id: 'desc' },
      take: page.limit + 1,
      include: withUser,
    });
  }

  create(scope: OrgScope, data: { userId: string; role: RoleName }, db: Db = this.prisma): Promise<Membership> {
    return db.membership.create({ data: { id: uuidv7(), orgId: scope.orgId, userId: data.userId, role: data.role } });
  }

  async updateRole(scope: OrgScope, memberId: string, role: RoleName, db: Db = this.prisma): Promise<void> {
    await db.membership.updateMany({ where: { id: memberId, orgId: scope.orgId }, data: { role } });
  }

  async remove(scope: OrgScope, memberId: string, db: Db = this.prisma): Promise<void> {
    await db.membership.deleteMany({ where: { id: memberId, orgId: scope.orgId } });
  }

  countOwners(scope: OrgScope, db: Db = this.prisma): Promise<number> {
    return db.membership.count({ where: { orgId: scope.orgId, role: 'owner' } });
  }

  /** Every organization a user belongs to (the user's own view, across tenants), oldest first. */
  forUser(userId: string, db: Db = this.prisma): Promise<(Membership & { org: Organization })[]> {
    return db.membership.findMany({ where: { userId }, include: { org: true }, orderBy: { id: 'asc' } });
  }
}
