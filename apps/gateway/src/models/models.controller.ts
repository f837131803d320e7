import { Controller, Get, Param, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { ApiContract } from '../openapi/contract.js';
import { ModelRegistry, TENANT_POOL, type RegisteredModel } from '#model-service/model-registry';

/**
 * One definition of "ready" for /v1/models and the v2 ready routes: it can serve now — a live
 * worker holds the version warm, or (uploaded models, loaded on demand) a live worker serves
 * the tenant pool. Pure.
 */
export function versionReady(pool: string, warmWorkers: number, onDemandWorkers: number): boolean {
  return warmWorkers > 0 || (pool === TENANT_POOL && onDemandWorkers > 0);
}

/** Live workers of the tenant pool, asked only when some model is loaded on demand. */
export async function onDemandWorkers(registry: ModelRegistry, models: readonly RegisteredModel[]): Promise<number> {
  return models.some((m) => m.pool === TENANT_POOL) ? registry.poolWorkers(TENANT_POOL) : 0;
}

export function modelView(m: RegisteredModel, onDemand: number) {
  const versions = m.versions.map((v) => ({
    version: v.version,
    sha256: v.sha256,
    size_bytes: v.sizeBytes,
    inputs: v.inputs,
    outputs: v.outputs,
    ready: versionReady(m.pool, v.warmWorkers, onDemand),
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
    /** The default version can serve now (see versionReady). */
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
  @ApiContract({ responses: { 200: { description: 'Every model (one page)', schema: 'ModelList' } } })
  async list(@CurrentKey() key: AuthenticatedKey) {
    const models = await this.registry.list(key.orgId);
    const onDemand = await onDemandWorkers(this.registry, models);
    return { object: 'list', data: models.map((m) => modelView(m, onDemand)), has_more: false, next_cursor: null };
  }

  @Get(':name')
  @ApiOperation({ summary: 'One model with all its versions' })
  @ApiContract({ responses: { 200: { description: 'The model', schema: 'Model' } }, problems: ['model_not_found'] })
  async get(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string) {
    const m = await this.registry.get(key.orgId, name);
    if (!m) throw new ProblemError('model_not_found', `No model ${JSON.stringify(name.slice(0, 100))}.`);
    return modelView(m, await onDemandWorkers(this.registry, [m]));
  }
}
