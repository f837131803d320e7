/**
 * Registering an organization's uploaded model version: the Model row (namespace = the
 * org id, pool = the tenant pool) is created on the first upload; versions are immutable
 * (the same name and version again is a conflict, never an overwrite).
 */
import { Prisma, uuidv7, type PrismaClient } from '#infra/db';
import { compareVersions } from '#model-service/model-format';
import type { ModelSignature } from '#model-service/tensors';

/** The pool that serves uploaded models (workers with WORKER_POOLS including it, or "all"). */
export const TENANT_POOL = 'tenant';

/** Batching policy and runtime settings recorded with an uploaded version. */
export interface UploadedVersionConfig {
  max_batch_size: number;
  max_queue_delay_ms: number;
  intra_op_threads: number;
  graph_optimization_level: 'basic' | 'extended' | 'all';
  enable_mem_arena: boolean;
  warmup: 'auto';
}

/**
 * An uploaded model batches only when every input and output has the same named dynamic
 * first dimension (a batch axis); otherwise stacking requests along axis 0 could change
 * what the model computes.
 */
export function uploadedVersionConfig(signature: ModelSignature): UploadedVersionConfig {
  const first = [...signature.inputs, ...signature.outputs].map((s) => s.shape[0]);
  const axis = first[0];
  const batchable = typeof axis === 'string' && first.every((d) => d === axis);
  return { max_batch_size: batchable ? 16 : 1, max_queue_delay_ms: 2, intra_op_threads: 1, graph_optimization_level: 'all', enable_mem_arena: true, warmup: 'auto' };
}

export interface NewUploadedVersion {
  orgId: string;
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  artifactUri: string;
  signature: ModelSignature;
  config: UploadedVersionConfig;
}

export interface UploadedVersionRecord {
  modelId: string;
  versionId: string;
  name: string;
  version: string;
  pool: string;
  sha256: string;
  sizeBytes: number;
  artifactUri: string;
  signature: ModelSignature;
  createdAt: Date;
}

type Tx = Prisma.TransactionClient;
type Db = PrismaClient | Tx;

/** A plan's limits on what an organization keeps of uploaded models. */
export interface UploadQuota {
  /** Total bytes of the kept (not deleted) versions. */
  maxStorageBytes: bigint;
  /** Kept (not deleted) versions, all the organization's models together. */
  maxVersions: number;
}

/** What an organization keeps now: its versions that are not deleted. */
export interface UploadUsage {
  storageBytes: bigint;
  versions: number;
}

/** Which quota one more version of `incomingBytes` would pass, or null when it fits both. */
export function exceededQuota(usage: UploadUsage, quota: UploadQuota, incomingBytes: number | bigint): 'versions' | 'storage' | null {
  if (usage.versions + 1 > quota.maxVersions) return 'versions';
  if (usage.storageBytes + BigInt(incomingBytes) > quota.maxStorageBytes) return 'storage';
  return null;
}

/** The organization's kept versions and their total size. */
export async function uploadUsage(db: Db, orgId: string): Promise<UploadUsage> {
  const [row] = await db.$queryRaw<{ versions: bigint; bytes: bigint | null }[]>`
    SELECT count(*)::bigint AS versions, sum(v."sizeBytes")::bigint AS bytes
    FROM "ModelVersion" v JOIN "Model" m ON m.id = v."modelId"
    WHERE m.namespace = ${orgId} AND v."deletedAt" IS NULL`;
  return { versions: Number(row?.versions ?? 0n), storageBytes: row?.bytes ?? 0n };
}

/**
 * Serialises what changes one organization's uploads (a registration checking the quotas, a
 * deletion), then what touches one stored artifact (placing it, removing it): always in this
 * order, so two transactions never wait on each other crosswise. Transaction-scoped locks.
 */
async function lockOrgUploads(tx: Tx, orgId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${'stratum:uploads:' + orgId}, 0))`;
}
async function lockArtifact(tx: Tx, artifactUri: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${'stratum:artifact:' + artifactUri}, 0))`;
}

/** Waiting for the locks above is short (other uploads' registrations), but may queue behind a few. */
const TX_OPTIONS = { maxWait: 10_000, timeout: 20_000 } as const;

/** A registration refused because the organization's plan quota is full. */
export interface QuotaRefusal {
  refused: 'versions' | 'storage';
  usage: UploadUsage;
  quota: UploadQuota;
}

export interface RegisterOptions {
  /** The plan's quotas, checked under the organization's lock (no two registrations pass together). */
  quota?: UploadQuota;
  /** Puts the artifact in place (under the artifact's lock, so a concurrent deletion cannot remove it meanwhile). */
  place?: () => Promise<void>;
  /** More work in the same transaction (e.g. the audit entry). */
  alsoInTx?: (tx: Tx, record: UploadedVersionRecord) => Promise<void>;
}

/**
 * Registers the version in one transaction (with `alsoInTx`, e.g. the audit entry);
 * 'conflict' when the organization already has (or had: deleted versions keep their number)
 * this name and version; a `QuotaRefusal` when it would pass the plan's quotas.
 */
export async function registerUploadedVersion(prisma: PrismaClient, v: NewUploadedVersion, options: RegisterOptions = {}): Promise<UploadedVersionRecord | 'conflict' | QuotaRefusal> {
  try {
    return await prisma.$transaction(async (tx) => {
      await lockOrgUploads(tx, v.orgId);
      if (options.quota) {
        const usage = await uploadUsage(tx, v.orgId);
        const refused = exceededQuota(usage, options.quota, v.sizeBytes);
        if (refused) return { refused, usage, quota: options.quota };
      }
      await tx.model.createMany({ data: [{ id: uuidv7(), orgId: v.orgId, namespace: v.orgId, name: v.name, pool: TENANT_POOL, defaultVersion: null }], skipDuplicates: true });
      const model = await tx.model.findUniqueOrThrow({ where: { namespace_name: { namespace: v.orgId, name: v.name } } });
      const row = await tx.modelVersion.create({
        data: {
          id: uuidv7(),
          modelId: model.id,
          version: v.version,
          sha256: v.sha256,
          sizeBytes: v.sizeBytes,
          artifactUri: v.artifactUri,
          inputs: v.signature.inputs as unknown as Prisma.InputJsonValue,
          outputs: v.signature.outputs as unknown as Prisma.InputJsonValue,
          config: v.config as unknown as Prisma.InputJsonValue,
        },
      });
      // The default version is the highest one.
      if (model.defaultVersion === null || compareVersions(v.version, model.defaultVersion) > 0) {
        await tx.model.update({ where: { id: model.id }, data: { defaultVersion: v.version } });
      }
      const record: UploadedVersionRecord = {
        modelId: model.id,
        versionId: row.id,
        name: v.name,
        version: v.version,
        pool: model.pool,
        sha256: v.sha256,
        sizeBytes: v.sizeBytes,
        artifactUri: v.artifactUri,
        signature: v.signature,
        createdAt: row.createdAt,
      };
      if (options.alsoInTx) await options.alsoInTx(tx, record);
      // Last, so the artifact's lock is held only briefly and released by the commit.
      if (options.place) {
        await lockArtifact(tx, v.artifactUri);
        await options.place();
      }
      return record;
    }, TX_OPTIONS);
  } catch (e) {
    if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002') return 'conflict';
    throw e;
  }
}

export function isQuotaRefusal(r: unknown): r is QuotaRefusal {
  return typeof r === 'object' && r !== null && 'refused' in r;
}

/** A deleted version, as it was. */
export interface DeletedVersionRecord {
  versionId: string;
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  artifactUri: string;
  /** True when no other kept version (of any organization) uses the same stored file, so it was removed. */
  artifactRemoved: boolean;
}

export interface DeleteOptions {
  /** Removes the stored file (called under the artifact's lock when no kept version uses it any more). */
  removeArtifact?: (artifactUri: string) => Promise<void>;
  alsoInTx?: (tx: Tx, record: DeletedVersionRecord) => Promise<void>;
}

/**
 * Deletes an uploaded version that is not its model's default: the row is marked deleted (it
 * is no longer listed, resolved for calls or counted against the quotas, and its number is
 * never reused), and the stored file is removed when no other kept version uses it.
 * 'not_found' when the organization has no such (kept) version, 'default' when it is the default.
 */
export async function deleteUploadedVersion(prisma: PrismaClient, ref: { orgId: string; name: string; version: string }, options: DeleteOptions = {}): Promise<DeletedVersionRecord | 'not_found' | 'default'> {
  return prisma.$transaction(async (tx) => {
    await lockOrgUploads(tx, ref.orgId);
    const model = await tx.model.findUnique({ where: { namespace_name: { namespace: ref.orgId, name: ref.name } }, select: { id: true, defaultVersion: true } });
    if (!model) return 'not_found' as const;
    const row = await tx.modelVersion.findUnique({ where: { modelId_version: { modelId: model.id, version: ref.version } } });
    if (!row || row.deletedAt !== null) return 'not_found' as const;
    if (model.defaultVersion === ref.version) return 'default' as const;
    await tx.modelVersion.update({ where: { id: row.id }, data: { deletedAt: new Date() } });
    let artifactRemoved = false;
    if (options.removeArtifact && row.artifactUri.startsWith('storage:')) {
      await lockArtifact(tx, row.artifactUri);
      artifactRemoved = (await tx.modelVersion.count({ where: { artifactUri: row.artifactUri, deletedAt: null } })) === 0;
    }
    const record: DeletedVersionRecord = { versionId: row.id, name: ref.name, version: ref.version, sha256: row.sha256, sizeBytes: row.sizeBytes, artifactUri: row.artifactUri, artifactRemoved };
    if (options.alsoInTx) await options.alsoInTx(tx, record);
    // Last: a failure before this rolls the deletion back with the file still in place.
    if (artifactRemoved) await options.removeArtifact!(row.artifactUri);
    return record;
  }, TX_OPTIONS);
}
