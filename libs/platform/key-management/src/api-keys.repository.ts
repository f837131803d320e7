import { Injectable } from '@nestjs/common';
import { writeAudit } from '#platform/audit';
import { AppConfig } from '#infra/config';
import { Prisma, PrismaClient, uuidv7 } from '#infra/db';
import { ProblemError } from '#infra/errors';
import type { Actor } from '#platform/tenancy';
import { digestApiKey, generateApiKey } from '#platform/api-keys';
import { assertGrantable } from './grants.js';
import { isUuid, type ApiKeyListFilter, type CreateApiKeyInput, type PageQuery, type UpdateApiKeyInput } from './api-key-input.js';
import { apiKeyStatus, toApiKeyView, type ApiKeyRecord, type ApiKeyView, type ApiKeyWithSecret, type CreatedBy } from './api-key-view.js';

/** Every read takes the tenant: a query without an orgId does not compile. Writes take the Actor, which carries it. */
export interface TenantScope {
  readonly orgId: string;
}

export interface ApiKeyPage {
  data: ApiKeyView[];
  has_more: boolean;
  next_cursor: string | null;
}

/** A write's result and the digests whose cached verification must be dropped everywhere. */
export interface ApiKeyChange<V = ApiKeyView> {
  key: V;
  invalidate: string[];
}

const SELECT = {
  id: true,
  orgId: true,
  name: true,
  mode: true,
  displayPrefix: true,
  scopes: true,
  rateLimitPerMinute: true,
  expiresAt: true,
  revokedAt: true,
  lastUsedAt: true,
  rolledToId: true,
  createdById: true,
  createdAt: true,
} as const;

type Tx = Prisma.TransactionClient;

const iso = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);

function notFound(id: string): ProblemError {
  return new ProblemError('api_key_not_found', `No API key ${JSON.stringify(id.slice(0, 64))} in this organization.`);
}

/** Audit's "who" for an actor. */
function auditActor(actor: Actor) {
  return { orgId: actor.orgId, actorType: actor.kind, actorId: actorId(actor), ip: actor.ip };
}

/** The public fields of a new key as the audit log records them (never the secret or digest). */
function creationFields(k: ApiKeyRecord): Record<string, unknown> {
  return {
    name: k.name,
    mode: k.mode,
    display_prefix: k.displayPrefix,
    scopes: k.scopes,
    expires_at: iso(k.expiresAt),
    rate_limit_per_minute: k.rateLimitPerMinute,
  };
}

/**
 * API-key management: create, list, get, update, revoke and roll, scoped to one
 * organization. Each write and its audit entry commit in one transaction.
 */
@Injectable()
export class ApiKeysRepository {
  constructor(
    private readonly db: PrismaClient,
    private readonly config: AppConfig,
  ) {}

  /** Newest first; `after` is the id of the last key of the previous page (ids are UUIDv7). */
  async list(scope: TenantScope, filter: ApiKeyListFilter, page: PageQuery): Promise<ApiKeyPage> {
    const rows = await this.db.apiKey.findMany({
      where: {
        orgId: scope.orgId,
        ...(filter.mode ? { mode: filter.mode } : {}),
        ...(filter.includeRevoked ? {} : { revokedAt: null }),
        ...(page.after ? { id: { lt: page.after } } : {}),
      },
      orderBy: { id: 'desc' },
      take: page.limit + 1,
      select: SELECT,
    });
    const has_more = rows.length > page.limit;
    const data = await this.views(scope, rows.slice(0, page.limit));
    return { data, has_more, next_cursor: has_more ? (data.at(-1)?.id ?? null) : null };
  }

  async get(scope: TenantScope, id: string): Promise<ApiKeyView> {
    const row = await this.find(this.db, scope, id);
    const [view] = await this.views(scope, [row]);
    return view!;
  }

  async create(actor: Actor, input: CreateApiKeyInput): Promise<ApiKeyChange<ApiKeyWithSecret>> {
    assertGrantable(actor, input.scopes, input.mode);
    const generated = generateApiKey(input.mode);
    const row = await this.db.$transaction(async (tx) => {
      const created = await tx.apiKey.create({
        data: {
          id: uuidv7(),
          orgId: actor.orgId,
          name: input.name,
          mode: input.mode,
          displayPrefix: generated.displayPrefix,
          digest: digestApiKey(generated.secret, this.config.env.API_KEY_PEPPER),
          scopes: input.scopes,
          expiresAt: input.expiresAt,
          rateLimitPerMinute: input.rateLimitPerMinute,
          createdById: actor.kind === 'user' ? actor.userId : null,
        },
        select: SELECT,
      });
      await writeAudit(tx, { ...auditActor(actor), action: 'api_key.create', targetType: 'api_key', targetId: created.id, changes: { after: creationFields(created) } });
      return created;
    });
    return { key: { ...toApiKeyView(row, creatorOf(actor)), secret: generated.secret }, invalidate: [] };
  }

  async update(actor: Actor, id: string, patch: UpdateApiKeyInput): Promise<ApiKeyChange> {
    const { row, digest } = await this.db.$transaction(async (tx) => {
      const current = await this.findForUpdate(tx, actor, id);
      assertGrantable(actor, [...current.scopes, ...(patch.scopes ?? [])], current.mode);
      if (current.revokedAt !== null) throw new ProblemError('conflict', 'This API key is revoked; a revoked key cannot be changed.');
      // A rolled key (in its grace period) or an expired one must not be revived, e.g. by `expires_at: null`.
      const status = apiKeyStatus(current, Date.now());
      if (status === 'rolled') throw new ProblemError('key_not_active', `This API key was rolled to ${current.rolledToId} and only works until its grace period ends; change the new key instead.`);
      if (status === 'expired') throw new ProblemError('key_not_active', 'This API key has expired and cannot be changed; create a new key instead.');
      const before: Record<string, unknown> = {};
      const after: Record<string, unknown> = {};
      const data: Prisma.ApiKeyUpdateManyMutationInput = {};
      if (patch.name !== undefined && patch.name !== current.name) {
        before['name'] = current.name;
        after['name'] = data.name = patch.name;
      }
      if (patch.scopes !== undefined && !sameSet(patch.scopes, current.scopes)) {
        before['scopes'] = current.scopes;
        after['scopes'] = data.scopes = patch.scopes;
      }
      if (patch.expiresAt !== undefined && iso(patch.expiresAt) !== iso(current.expiresAt)) {
        before['expires_at'] = iso(current.expiresAt);
        after['expires_at'] = iso(patch.expiresAt);
        data.expiresAt = patch.expiresAt;
      }
      if (patch.rateLimitPerMinute !== undefined && patch.rateLimitPerMinute !== current.rateLimitPerMinute) {
        before['rate_limit_per_minute'] = current.rateLimitPerMinute;
        after['rate_limit_per_minute'] = data.rateLimitPerMinute = patch.rateLimitPerMinute;
      }
      if (Object.keys(data).length === 0) return { row: current, digest: null };
      const updated = await tx.apiKey.update({ where: { id: current.id }, data, select: SELECT });
      await writeAudit(tx, { ...auditActor(actor), action: 'api_key.update', targetType: 'api_key', targetId: current.id, changes: { before, after } });
      // A name change does not touch verification; everything else does.
      const verificationChanged = Object.keys(data).some((k) => k !== 'name');
      return { row: updated, digest: verificationChanged ? current.digest : null };
    });
    const [view] = await this.views(actor, [row]);
    return { key: view!, invalidate: digest ? [digest] : [] };
  }

  /** Idempotent: revoking a revoked key answers the key as it is, with no new audit entry. */
  async revoke(actor: Actor, id: string): Promise<ApiKeyChange> {
    const { row, digest } = await this.db.$transaction(async (tx) => {
      const current = await this.findForUpdate(tx, actor, id);
      // Revoking can cut off a key the actor could never have made (a test key and a live key): same rule as changing it.
      assertGrantable(actor, current.scopes, current.mode);
      if (current.revokedAt !== null) return { row: current, digest: current.digest };
      const at = new Date();
      const updated = await tx.apiKey.update({ where: { id: current.id }, data: { revokedAt: at }, select: SELECT });
      await writeAudit(tx, {
        ...auditActor(actor),
        action: 'api_key.revoke',
        targetType: 'api_key',
        targetId: current.id,
        changes: { before: { revoked_at: null }, after: { revoked_at: at.toISOString() } },
      });
      return { row: updated, digest: current.digest };
    });
    const [view] = await this.views(actor, [row]);
    return { key: view!, invalidate: [digest] };
  }

  /**
   * A new secret with the same name, mode, scopes, limits and expiry. The old key keeps
   * working for `graceSeconds` (never beyond its own expiry) and points at its successor.
   */
  async roll(actor: Actor, id: string, graceSeconds: number): Promise<ApiKeyChange<ApiKeyWithSecret>> {
    const now = Date.now();
    const generated = { value: '' };
    const { created, digest } = await this.db.$transaction(async (tx) => {
      const old = await this.findForUpdate(tx, actor, id);
      assertGrantable(actor, old.scopes, old.mode);
      if (old.revokedAt !== null) throw new ProblemError('conflict', 'This API key is revoked; a revoked key cannot be rolled.');
      if (old.expiresAt !== null && old.expiresAt.getTime() <= now) throw new ProblemError('conflict', 'This API key has expired; create a new key instead.');
      if (old.rolledToId !== null) throw new ProblemError('conflict', `This API key was already rolled to ${old.rolledToId}; roll that key instead.`);
      const fresh = generateApiKey(old.mode);
      generated.value = fresh.secret;
      const newKey = await tx.apiKey.create({
        data: {
          id: uuidv7(),
          orgId: actor.orgId,
          name: old.name,
          mode: old.mode,
          displayPrefix: fresh.displayPrefix,
          digest: digestApiKey(fresh.secret, this.config.env.API_KEY_PEPPER),
          scopes: old.scopes,
          expiresAt: old.expiresAt,
          rateLimitPerMinute: old.rateLimitPerMinute,
          createdById: actor.kind === 'user' ? actor.userId : null,
        },
        select: SELECT,
      });
      const graceEnd = new Date(now + graceSeconds * 1000);
      const expiresAt = old.expiresAt !== null && old.expiresAt < graceEnd ? old.expiresAt : graceEnd;
      // Guarded on the state just read: of two concurrent rolls, one wins and the other rolls back.
      const { count } = await tx.apiKey.updateMany({
        where: { id: old.id, orgId: actor.orgId, rolledToId: null, revokedAt: null },
        data: { expiresAt, rolledToId: newKey.id },
      });
      if (count !== 1) throw new ProblemError('conflict', 'This API key was changed concurrently; try again.');
      const who = auditActor(actor);
      await writeAudit(tx, {
        ...who,
        action: 'api_key.roll',
        targetType: 'api_key',
        targetId: old.id,
        changes: { before: { expires_at: iso(old.expiresAt), rolled_to: null }, after: { expires_at: expiresAt.toISOString(), rolled_to: newKey.id } },
      });
      await writeAudit(tx, { ...who, action: 'api_key.create', targetType: 'api_key', targetId: newKey.id, changes: { after: { ...creationFields(newKey), rolled_from: old.id } } });
      return { created: newKey, digest: old.digest };
    });
    return { key: { ...toApiKeyView(created, creatorOf(actor)), secret: generated.value }, invalidate: [digest] };
  }

  /**
   * Inside the caller's transaction (a member's removal): revokes every key of the organization
   * that `userId` created, and every key those keys created in turn (from the audit log's
   * `api_key.create` entries, whose actor is the creating key), with one `api_key.revoke` audit
   * entry each. Returns the digests to drop from every verification cache after the commit.
   */
  async revokeCreatedByUser(tx: Tx, actor: Actor, userId: string, reason: Record<string, unknown>): Promise<string[]> {
    const ids = new Set((await tx.apiKey.findMany({ where: { orgId: actor.orgId, createdById: userId }, select: { id: true } })).map((k) => k.id));
    let frontier = [...ids];
    while (frontier.length) {
      const made = await tx.auditLog.findMany({
        where: { orgId: actor.orgId, action: 'api_key.create', actorType: 'api_key', actorId: { in: frontier } },
        select: { targetId: true },
      });
      frontier = made.map((e) => e.targetId).filter((t): t is string => t !== null && !ids.has(t));
      for (const t of frontier) ids.add(t);
    }
    if (ids.size === 0) return [];
    const at = new Date();
    const revoked = await tx.$queryRaw<{ id: string; digest: string }[]>`
      UPDATE "ApiKey" SET "revokedAt" = ${at}, "updatedAt" = ${at}
      WHERE "orgId" = ${actor.orgId}::uuid AND id = ANY(${[...ids]}::uuid[]) AND "revokedAt" IS NULL
      RETURNING id, digest`;
    for (const k of revoked) {
      await writeAudit(tx, {
        ...auditActor(actor),
        action: 'api_key.revoke',
        targetType: 'api_key',
        targetId: k.id,
        changes: { before: { revoked_at: null }, after: { revoked_at: at.toISOString(), ...reason } },
      });
    }
    return revoked.map((k) => k.digest);
  }

  private async find(db: PrismaClient | Tx, scope: TenantScope, id: string): Promise<ApiKeyRecord> {
    const row = isUuid(id) ? await db.apiKey.findFirst({ where: { id: id.toLowerCase(), orgId: scope.orgId }, select: SELECT }) : null;
    if (!row) throw notFound(id);
    return row;
  }

  /** Reads the key with a row lock (SELECT … FOR UPDATE) so concurrent writes serialise. */
  private async findForUpdate(tx: Tx, scope: TenantScope, id: string): Promise<ApiKeyRecord & { digest: string }> {
    if (!isUuid(id)) throw notFound(id);
    const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM "ApiKey" WHERE id = ${id.toLowerCase()}::uuid AND "orgId" = ${scope.orgId}::uuid FOR UPDATE`;
    if (locked.length === 0) throw notFound(id);
    const row = await tx.apiKey.findFirst({ where: { id: id.toLowerCase(), orgId: scope.orgId }, select: { ...SELECT, digest: true } });
    if (!row) throw notFound(id);
    return row;
  }

  /** Views with `created_by`: the user from the row, or the key that created it, from the audit log. */
  private async views(scope: TenantScope, rows: ApiKeyRecord[]): Promise<ApiKeyView[]> {
    const byKey = rows.filter((r) => r.createdById === null).map((r) => r.id);
    const creators = new Map<string, CreatedBy>();
    if (byKey.length) {
      const entries = await this.db.auditLog.findMany({
        where: { orgId: scope.orgId, action: 'api_key.create', targetId: { in: byKey } },
        select: { targetId: true, actorType: true, actorId: true },
      });
      for (const e of entries) if (e.targetId) creators.set(e.targetId, { type: e.actorType === 'user' ? 'user' : 'api_key', id: e.actorId });
    }
    const now = Date.now();
    return rows.map((r) => toApiKeyView(r, r.createdById !== null ? { type: 'user', id: r.createdById } : (creators.get(r.id) ?? null), now));
  }
}

function actorId(actor: Actor): string {
  return actor.kind === 'user' ? actor.userId : actor.keyId;
}

function creatorOf(actor: Actor): CreatedBy {
  return { type: actor.kind, id: actorId(actor) };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}
