import { Injectable } from '@nestjs/common';
import { PrismaClient, uuidv7, type Organization } from '#infra/db';
import { UUID, type Db, type OrgScope } from './scope.js';

/** Organizations: the tenants themselves. */
@Injectable()
export class OrganizationsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** The organization named by a route's `:org` (its uuid or its slug), or null. */
  resolve(handle: string, db: Db = this.prisma): Promise<Organization | null> {
    if (UUID.test(handle)) return db.organization.findUnique({ where: { id: handle.toLowerCase() } });
    if (!/^[a-z0-9-]{1,63}$/.test(handle)) return Promise.resolve(null);
    return db.organization.findUnique({ where: { slug: handle } });
  }

  get(scope: OrgScope, db: Db = this.prisma): Promise<Organization | null> {
    return db.organization.findUnique({ where: { id: scope.orgId } });
  }

  slugTaken(slug: string, db: Db = this.prisma): Promise<boolean> {
    return db.organization.findUnique({ where: { slug }, select: { id: true } }).then((r) => r !== null);
  }

  /** Creates an organization on a plan (by its key, e.g. "free"). */
  async create(data: { name: string; slug: string; planKey: string }, db: Db = this.prisma): Promise<Organization> {
    const plan = await db.plan.findUnique({ where: { key: data.planKey }, select: { id: true } });
    if (!plan) throw new Error(`plan "${data.planKey}" does not exist (run the seed)`);
    return db.organization.create({ data: { id: uuidv7(), name: data.name, slug: data.slug, planId: plan.id } });
  }

  update(scope: OrgScope, data: { name: string }, db: Db = this.prisma): Promise<Organization> {
    return db.organization.update({ where: { id: scope.orgId }, data: { name: data.name } });
  }

  /**
   * Locks the organization's row until the transaction ends: serialises changes that must
   * see a consistent set of memberships (e.g. "at least one owner stays").
   */
  async lock(scope: OrgScope, db: Db): Promise<void> {
    await db.$queryRaw`SELECT id FROM "Organization" WHERE id = ${scope.orgId}::uuid FOR UPDATE`;
  }
}
