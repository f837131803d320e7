import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { ModelRegistry, type RegisteredModel } from '#model-service/model-registry';

export function modelView(m: RegisteredModel) {
  const versions = m.versions.map((v) => ({
    version: v.version,
    sha256: v.sha256,
    size_bytes: v.sizeBytes,
    inputs: v.inputs,
    outputs: v.outputs,
    ready: v.warmWorkers > 0,
    ready_workers: v.warmWorkers,
    created_at: v.createdAt.toISOString(),
  }));
  return {
    object: 'model',
    name: m.name,
    owner: m.owner,
    description: m.description,
    pool: m.pool,
    default_version: m.defaultVersion,
    /** The default version is warm on at least one live worker. */
    ready: versions.some((v) => v.version === m.defaultVersion && v.ready),
    versions,
    created_at: m.createdAt.toISOString(),
  };
}

@ApiTags('models')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly registry: ModelRegistry) {}

  @Get()
  @ApiOperation({ summary: "The models this key may call (the platform's and its organization's), with versions, signatures and readiness" })
  async list(@CurrentKey() key: AuthenticatedKey) {
    const models = await this.registry.list(key.orgId);
    return { object: 'list', data: models.map(modelView), has_more: false };
  }

  @Get(':name')
  @ApiOperation({ summary: 'One model with all its versions' })
  async get(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string) {
    const m = await this.registry.get(key.orgId, name);
    if (!m) throw new ProblemError('model_not_found', `No model ${JSON.stringify(name.slice(0, 100))}.`);
    return modelView(m);
  }
}
