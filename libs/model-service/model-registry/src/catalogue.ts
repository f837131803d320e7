import { resolve } from 'node:path';
import { findModel, loadModelRepository, poolsOf, repositoryEntries, withBuiltins, type ModelEntry, type RepositoryModel } from '#model-service/model-format';
import { TENANT_POOL } from './uploads.js';

/** The models this deployment serves: the built-in repository merged with MODEL_REPOSITORY. */
export class ModelCatalogue {
  constructor(readonly models: readonly RepositoryModel[]) {}

  /** Loads MODEL_REPOSITORY (when set) and merges it with the built-ins; throws ModelRepositoryError. */
  static async load(repositoryDir: string): Promise<ModelCatalogue> {
    const extra = repositoryDir.trim() ? await loadModelRepository(resolve(repositoryDir)) : [];
    return new ModelCatalogue(withBuiltins(extra));
  }

  entries(): ModelEntry[] {
    return repositoryEntries(this.models);
  }

  pools(): string[] {
    return poolsOf(this.models);
  }

  /** A version, or the model's default version. */
  find(name: string, version?: string): ModelEntry | undefined {
    return findModel(this.models, name, version);
  }
}

/** Every pool a queue exists for: the catalogue's (built-ins + MODEL_REPOSITORY) and the tenant pool. Read before the app modules are built. */
export async function servedPools(repositoryDir: string): Promise<string[]> {
  const catalogue = await ModelCatalogue.load(repositoryDir);
  return [...new Set([...catalogue.pools(), TENANT_POOL])];
}
