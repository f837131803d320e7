/**
 * Published feature versions are immutable: each name@version is recorded in Postgres (Feature)
 * with the sha256 of its document's canonical content the first time any process serves it; a
 * process whose document for a recorded version has another sha256 refuses to start. Inserted
 * with ON CONFLICT DO NOTHING and read back, so concurrent starts agree on the first writer.
 */
import { uuidv7, type PrismaClient } from '#infra/db';
import type { FeatureDocument } from '#feature-engine/feature-catalogue';

export interface RecordedVersion {
  name: string;
  version: string;
  sha256: string;
}

/** A document whose content differs from the version already published under its name@version. */
export class FeatureVersionChangedError extends Error {
  constructor(readonly changed: { file: string; name: string; version: string; recorded: string; found: string }[]) {
    super(
      changed
        .map(
          (c) =>
            `${c.file}: feature ${c.name}@${c.version} was published with sha256 ${c.recorded} and this document's content has sha256 ${c.found}; ` +
            `a published version is immutable: publish the change as a new version (${c.name}@${Number(c.version) + 1}) and restore the document`,
        )
        .join('\n'),
    );
    this.name = 'FeatureVersionChangedError';
  }
}

/** The documents whose content differs from the recorded version of the same name@version (pure). */
export function changedVersions(docs: readonly FeatureDocument[], recorded: readonly RecordedVersion[]): FeatureVersionChangedError['changed'] {
  const byKey = new Map(recorded.map((r) => [`${r.name}@${r.version}`, r.sha256]));
  const changed: FeatureVersionChangedError['changed'] = [];
  for (const d of docs) {
    const sha = byKey.get(`${d.def.name}@${d.def.version}`);
    if (sha !== undefined && sha !== d.sha256) changed.push({ file: d.file, name: d.def.name, version: d.def.version, recorded: sha, found: d.sha256 });
  }
  return changed;
}

/** Records the versions not yet published and checks the others; throws FeatureVersionChangedError. */
export async function recordFeatureVersions(prisma: PrismaClient, docs: readonly FeatureDocument[]): Promise<{ inserted: number }> {
  if (docs.length === 0) return { inserted: 0 };
  const { count } = await prisma.feature.createMany({
    data: docs.map((d) => {
      const { default: _default, ...content } = d.def;
      return {
        id: uuidv7(),
        name: d.def.name,
        version: d.def.version,
        description: d.def.description,
        definition: JSON.parse(JSON.stringify(content)) as object,
        sha256: d.sha256,
        price: JSON.parse(JSON.stringify(d.def.price)) as object,
      };
    }),
    skipDuplicates: true,
  });
  const rows = await prisma.feature.findMany({
    where: { OR: docs.map((d) => ({ name: d.def.name, version: d.def.version })) },
    select: { name: true, version: true, sha256: true },
  });
  const changed = changedVersions(docs, rows);
  if (changed.length > 0) throw new FeatureVersionChangedError(changed);
  return { inserted: count };
}
