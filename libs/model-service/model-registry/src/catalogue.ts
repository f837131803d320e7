import { resolve } from 'node:path';
import { findModel, loadModelRepository, poolsOf, repositoryEntries, withBuiltins, type ModelEntry, type RepositoryModel } from '#model-service/model-format';

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
