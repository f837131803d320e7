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

/**
 * Registers the version in one transaction (with `alsoInTx`, e.g. the audit entry);
 * 'conflict' when the organization already has this name and version.
 */
export async function registerUploadedVersion(prisma: PrismaClient, v: NewUploadedVersion, alsoInTx?: (tx: Tx, record: UploadedVersionRecord) => Promise<void>): Promise<UploadedVersionRecord | 'conflict'> {
  try {
    return await prisma.$transaction(async (tx) => {
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
      if (alsoInTx) await alsoInTx(tx, record);
      return record;
    });
  } catch (e) {
    if (e instanceof Prisma.PrismaClientKnownRequestError && e.code === 'P2002') return 'conflict';
    throw e;
  }
}
