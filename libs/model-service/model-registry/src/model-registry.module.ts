import { Global, Module } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { ModelCatalogue } from './catalogue.js';
import { ModelRegistry } from './model-registry.service.js';

/**
 * The model catalogue (built-ins + MODEL_REPOSITORY, loaded at start-up: a bad repository
 * stops the process with a message naming the file and field) and the Postgres registry.
 * Needs DbModule and RedisModule.
 */
@Global()
@Module({
  providers: [
    { provide: ModelCatalogue, useFactory: (config: AppConfig) => ModelCatalogue.load(config.env.MODEL_REPOSITORY), inject: [AppConfig] },
    ModelRegistry,
  ],
  exports: [ModelCatalogue, ModelRegistry],
})
export class ModelRegistryModule {}
