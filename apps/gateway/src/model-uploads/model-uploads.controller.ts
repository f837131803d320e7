import { Body, Controller, Get, Headers, Param, Post, UseGuards } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Organization } from '#infra/db';
import { CurrentActor, CurrentOrg, OrgGuard, RequirePermission, type Actor } from '#platform/tenancy';
import { modelView } from '../models/models.controller.js';
import { ModelUploadsService, type ModelVersionView } from './model-uploads.service.js';

@ApiTags('models')
@ApiParam({ name: 'org', description: 'Organization id or slug' })
@UseGuards(OrgGuard)
@Controller('v1/orgs/:org/models')
export class ModelUploadsController {
  constructor(private readonly uploads: ModelUploadsService) {}

  @Get()
  @RequirePermission('org:read')
  @ApiOperation({ summary: "The organization's own (uploaded) models, with versions, signatures and readiness" })
  async list(@CurrentOrg() org: Organization) {
    return { object: 'list', data: (await this.uploads.list(org)).map(modelView), has_more: false };
  }

  @Post(':name/versions/:version')
  @RequirePermission('models:write')
  @ApiOperation({
    summary: 'Upload an ONNX model as a new version of one of your models',
    description:
      'The raw file as the body (`Content-Type: application/octet-stream`), at most your plan\'s upload limit. It is validated in an isolated process (parses, loads, signature read) and becomes callable by your organization only, through `/v2/models/{name}`. Versions are immutable.',
  })
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' } })
  @ApiResponse({ status: 201, description: 'The registered version (signature, sha256, size)' })
  @ApiResponse({ status: 409, description: 'This version exists (versions are immutable), or the name is a platform model' })
  @ApiResponse({ status: 413, description: "Larger than the plan's upload limit" })
  @ApiResponse({ status: 422, description: '`model_invalid` with a `reason`: wrong_magic, empty, malformed, no_graph, unsupported_type, absurd_shape, load_failed, timeout, memory_limit, validator_crashed' })
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
}
