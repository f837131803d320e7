/**
 * Registry sync: makes the Postgres registry (Model, ModelVersion) match a model
 * repository. Idempotent and safe with concurrent processes (gateway and workers all run
 * it at start-up): rows are inserted with ON CONFLICT DO NOTHING on their unique keys and
 * read back, so the first writer wins and everyone else compares against it.
 * Versions are immutable: a version whose bytes (sha256) differ from the registered ones
 * is refused, never overwritten.
 */
import { uuidv7, type Prisma, type PrismaClient } from '#infra/db';
import { compareVersions, configRecord, fileDigest, readOnnxSignature, type ModelEntry, type RepositoryModel } from '#model-service/model-format';
import { modelKey } from '#model-service/tensors';

/** Namespace of the platform's models (shipped or from MODEL_REPOSITORY); an org's models use its id. */
export const PLATFORM_NAMESPACE = 'platform';

export type VersionOutcome = 'inserted' | 'unchanged' | 'conflict' | 'unreadable';

export interface VersionSyncResult {
  name: string;
  version: string;
  outcome: VersionOutcome;
  sha256: string | null;
  /** Why a version was refused (conflict, unreadable artifact). */
  error?: string;
}

export interface SyncReport {
  versions: VersionSyncResult[];
  /** `name@version` of the versions that must not be served (conflicting or unreadable). */
  refused: Map<string, string>;
}

export interface SyncOptions {
  namespace?: string;
  orgId?: string | null;
  log?: (level: 'log' | 'warn' | 'error', msg: string) => void;
}

async function syncVersion(prisma: PrismaClient, modelId: string, entry: ModelEntry): Promise<VersionSyncResult> {
  const base = { name: entry.name, version: entry.version };
  let digest: { sha256: string; sizeBytes: number };
  try {
    digest = await fileDigest(entry.artifactPath);
  } catch (e) {
    return { ...base, outcome: 'unreadable', sha256: null, error: `artifact ${entry.artifactPath} cannot be read: ${e instanceof Error ? e.message : String(e)}` };
  }
  const where = { modelId_version: { modelId, version: entry.version } };
  let row = await prisma.modelVersion.findUnique({ where });
  let outcome: VersionOutcome = 'unchanged';
  if (!row) {
    let signature;
    try {
      signature = await readOnnxSignature(entry.artifactPath);
    } catch (e) {
      return { ...base, outcome: 'unreadable', sha256: digest.sha256, error: `artifact ${entry.artifactPath} is not a readable ONNX model: ${e instanceof Error ? e.message : String(e)}` };
    }
    const created = await prisma.modelVersion.createMany({
      data: [
        {
          id: uuidv7(),
          modelId,
          version: entry.version,
          sha256: digest.sha256,
          sizeBytes: digest.sizeBytes,
          artifactUri: entry.artifactUri ?? `file:${entry.artifactPath}`,
          inputs: signature.inputs as unknown as Prisma.InputJsonValue,
          outputs: signature.outputs as unknown as Prisma.InputJsonValue,
          config: configRecord(entry) as Prisma.InputJsonValue,
        },
      ],
      skipDuplicates: true,
    });
    if (created.count === 1) outcome = 'inserted';
    row = await prisma.modelVersion.findUniqueOrThrow({ where });
  }
  if (row.sha256 !== digest.sha256) {
    return {
      ...base,
      outcome: 'conflict',
      sha256: digest.sha256,
      error:
        `model ${modelKey(entry)}: the artifact ${entry.artifactPath} has sha256 ${digest.sha256} but the registry holds ${row.sha256} for this version ` +
        '(versions are immutable: publish the new bytes as a new version)',
    };
  }
  return { ...base, outcome, sha256: digest.sha256 };
}

/** Syncs every model of a repository into one namespace (the platform's by default). */
export async function syncModelRegistry(prisma: PrismaClient, models: readonly RepositoryModel[], opts: SyncOptions = {}): Promise<SyncReport> {
  const namespace = opts.namespace ?? PLATFORM_NAMESPACE;
  const orgId = opts.orgId ?? null;
  const log = opts.log ?? (() => undefined);
  const report: SyncReport = { versions: [], refused: new Map() };
  for (const m of models) {
    await prisma.model.createMany({
      data: [{ id: uuidv7(), orgId, namespace, name: m.name, description: m.description || null, pool: m.pool, defaultVersion: null }],
      skipDuplicates: true,
    });
    const model = await prisma.model.findUniqueOrThrow({ where: { namespace_name: { namespace, name: m.name } } });
    const results: VersionSyncResult[] = [];
    for (const v of m.versions) {
      const r = await syncVersion(prisma, model.id, v);
      results.push(r);
      if (r.error) {
        report.refused.set(modelKey(v), r.error);
        log('error', r.error);
      } else if (r.outcome === 'inserted') {
        log('log', `registered model ${modelKey(v)} (sha256 ${r.sha256?.slice(0, 12)}…)`);
      }
    }
    report.versions.push(...results);
    const servable = results.filter((r) => !r.error).map((r) => r.version);
    const defaultVersion = servable.includes(m.defaultVersion) ? m.defaultVersion : (model.defaultVersion ?? [...servable].sort(compareVersions).at(-1) ?? null);
    const description = m.description || null;
    if (model.pool !== m.pool || model.description !== description || model.defaultVersion !== defaultVersion) {
      await prisma.model.update({ where: { id: model.id }, data: { pool: m.pool, description, defaultVersion } });
    }
  }
  return report;
}
