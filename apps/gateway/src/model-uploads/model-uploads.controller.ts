import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Organization } from '#infra/db';
import { CurrentActor, CurrentOrg, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';
import { ModelRegistry } from '#model-service/model-registry';
import { modelView, onDemandWorkers } from '../models/models.controller.js';
import { ApiContract } from '../openapi/contract.js';
import { ModelUploadsService, type ModelVersionView } from './model-uploads.service.js';

@ApiTags('models')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org/models')
export class ModelUploadsController {
  constructor(
    private readonly uploads: ModelUploadsService,
    private readonly registry: ModelRegistry,
  ) {}

  @Get()
  @RequirePermission('org:read')
  @ApiOperation({ summary: "The organization's own (uploaded) models, with versions, signatures and readiness" })
  @ApiContract({ responses: { 200: { description: 'Every uploaded model (one page)', schema: 'ModelList' } } })
  async list(@CurrentOrg() org: Organization) {
    const models = await this.uploads.list(org);
    const onDemand = await onDemandWorkers(this.registry, models);
    return { object: 'list', data: models.map((m) => modelView(m, onDemand)), has_more: false, next_cursor: null };
  }

  @Post(':name/versions/:version')
  @RequirePermission('models:write')
  @ApiOperation({
    summary: 'Upload an ONNX model as a new version of one of your models',
    description:
      'The raw file as the body (`Content-Type: application/octet-stream`), at most your plan\'s upload limit. It is validated in an isolated process (parses, loads, signature read) and becomes callable by your organization only, through `/v2/models/{name}`. Versions are immutable.',
  })
  @ApiContract({
    body: { schema: { json: { type: 'string', contentMediaType: 'application/octet-stream' } }, contentType: 'application/octet-stream' },
    responses: { 201: { description: 'The registered version (signature, sha256, size)', schema: 'ModelVersion' } },
    problems: ['conflict', 'version_quota_exceeded', 'storage_quota_exceeded', 'model_invalid', 'validation_queue_full'],
  })
  @ApiResponse({ status: 409, description: "`conflict`: this version exists or existed (versions are immutable, deleted numbers are not reused), or the name is a platform model; `version_quota_exceeded`: the organization keeps its plan's most versions already" })
  @ApiResponse({ status: 413, description: "`payload_too_large`: larger than the plan's upload limit; `storage_quota_exceeded`: it would take the organization's kept models past the plan's storage quota" })
  @ApiResponse({ status: 422, description: '`model_invalid` with a `reason`: wrong_magic, empty, malformed, no_graph, unsupported_type, absurd_shape, load_failed, timeout, memory_limit, validator_crashed (details never show server paths)' })
  @ApiResponse({ status: 503, description: '`validation_queue_full`: too many uploads wait for validation on this gateway; retry after `Retry-After` seconds' })
  async upload(
    @CurrentActor() actor: Actor,
    @CurrentOrg() org: Organization,
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Headers('content-length') contentLength: string | undefined,
  ): Promise<ModelVersionView> {
    return this.uploads.upload(actor, org, name, version, body, contentLength);
  }

  @Delete(':name/versions/:version')
  @HttpCode(204)
  @RequirePermission('models:write')
  @ApiOperation({
    summary: 'Delete a version of one of your models (not its default version)',
    description:
      "The version stops being listed, resolved for calls (404) and counted against the plan's quotas at once; its stored file is removed when no other version uses the same bytes. The version number is not reused. Audited as `model.version.delete`.",
  })
  @ApiContract({ responses: { 204: { description: 'Deleted', schema: null } }, problems: ['model_not_found', 'version_is_default'] })
  @ApiResponse({ status: 404, description: '`model_not_found`: no such model or version in your organization (also another organization\'s, and one deleted already)' })
  @ApiResponse({ status: 409, description: "`version_is_default`: the model's default version; upload a higher version first" })
  async deleteVersion(@CurrentActor() actor: Actor, @CurrentOrg() org: Organization, @Param('name') name: string, @Param('version') version: string): Promise<void> {
    await this.uploads.deleteVersion(actor, org, name, version);
  }
}
