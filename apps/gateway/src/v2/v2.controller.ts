import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Idempotent } from '#platform/idempotency';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { v2Error, type V2InferResponse, type V2ModelMetadata } from '#model-service/inference-protocol';
import { parsePreferWait } from '#platform/predictions';
import { V2_DEFAULT_WAIT_SECONDS, V2Service } from './v2.service.js';

const TENSOR_SCHEMA = {
  type: 'object',
  required: ['name', 'shape', 'datatype', 'data'],
  properties: {
    name: { type: 'string' },
    shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
    datatype: { type: 'string', enum: ['FP32', 'INT64', 'INT32', 'UINT8', 'BOOL'] },
    parameters: { type: 'object' },
    data: { type: 'array', description: 'Flat row-major, or nested as the shape' },
  },
};
const INFER_REQUEST_SCHEMA = {
  type: 'object',
  required: ['inputs'],
  properties: {
    id: { type: 'string', maxLength: 256 },
    parameters: { type: 'object' },
    inputs: { type: 'array', items: TENSOR_SCHEMA },
    outputs: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } },
  },
};

/** The protocol's paths: their problems also carry the protocol's plain `error` string. */
export function isInferenceProtocolPath(path: string): boolean {
  return path === '/v2' || path.startsWith('/v2/');
}

/** The server metadata's `extensions`: none of the protocol's optional extensions are implemented. */
const SERVER_EXTENSIONS: string[] = [];
export const SERVER_NAME = 'stratum';
export const SERVER_VERSION = '1';

/**
 * The Open Inference Protocol (KServe v2) over HTTP/JSON, behind the same API keys (scope
 * `predict`) and metering as /v1. Errors are problem+json that also carry the protocol's
 * `error` string, so a generic v2 client reads them unchanged.
 */
@ApiTags('v2 (Open Inference Protocol)')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('v2')
export class V2Controller {
  constructor(private readonly v2: V2Service) {}

  @Get()
  @ApiOperation({ summary: 'Server metadata: {name, version, extensions}' })
  server() {
    return { name: SERVER_NAME, version: SERVER_VERSION, extensions: SERVER_EXTENSIONS };
  }

  @Get('health/live')
  @ApiOperation({ summary: 'Server liveness (200 while the gateway answers)' })
  live() {
    return { live: true };
  }

  @Get('health/ready')
  @ApiOperation({ summary: 'Server readiness: 200 when Postgres and Redis answer and a live worker holds a model warm (or serves uploads), else 503' })
  @ApiResponse({ status: 503, description: 'Not ready; `checks` says why' })
  async ready(@CurrentKey() key: AuthenticatedKey, @Res({ passthrough: true }) reply: FastifyReply) {
    const r = await this.v2.serverReady(key);
    void reply.status(r.ready ? 200 : 503);
    return { ready: r.ready, checks: r.checks };
  }

  @Get('models/:name')
  @ApiOperation({ summary: 'Model metadata (default version): name, versions, platform, inputs, outputs' })
  async metadata(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string): Promise<V2ModelMetadata> {
    return this.v2.metadata(key, name);
  }

  @Get('models/:name/versions/:version')
  @ApiOperation({ summary: 'Model metadata of one version' })
  async versionMetadata(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string, @Param('version') version: string): Promise<V2ModelMetadata> {
    return this.v2.metadata(key, name, version);
  }

  @Get('models/:name/ready')
  @ApiOperation({ summary: "Model readiness (default version): 200 {name, ready: true} when it can serve now, else 503 with the protocol's `error`" })
  async modelReady(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string) {
    return this.readyAnswer(key, name);
  }

  @Get('models/:name/versions/:version/ready')
  @ApiOperation({ summary: 'Readiness of one version' })
  async versionReady(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string, @Param('version') version: string) {
    return this.readyAnswer(key, name, version);
  }

  @Post('models/:name/infer')
  @Idempotent()
  @HttpCode(200)
  @ApiOperation({ summary: 'Inference on the default version (JSON tensors)', description: 'Waits for the result (60 s by default, `Prefer: wait=N` for less); 504 `prediction_timeout` past it.' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`wait=N`: wait at most N seconds (1-60)' })
  @ApiBody({ schema: INFER_REQUEST_SCHEMA })
  async infer(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string, @Body() body: unknown, @Headers('prefer') prefer: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<V2InferResponse> {
    return this.runInfer(key, name, undefined, body, prefer, reply);
  }

  @Post('models/:name/versions/:version/infer')
  @Idempotent()
  @HttpCode(200)
  @ApiOperation({ summary: 'Inference on one version (JSON tensors)' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`wait=N`: wait at most N seconds (1-60)' })
  @ApiBody({ schema: INFER_REQUEST_SCHEMA })
  async inferVersion(
    @CurrentKey() key: AuthenticatedKey,
    @Param('name') name: string,
    @Param('version') version: string,
    @Body() body: unknown,
    @Headers('prefer') prefer: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<V2InferResponse> {
    return this.runInfer(key, name, version, body, prefer, reply);
  }

  private async runInfer(key: AuthenticatedKey, name: string, version: string | undefined, body: unknown, prefer: string | undefined, reply: FastifyReply): Promise<V2InferResponse> {
    const wait = parsePreferWait(prefer) ?? V2_DEFAULT_WAIT_SECONDS;
    const { response, predictionId } = await this.v2.infer(key, name, version, body, wait);
    void reply.header('x-prediction-id', predictionId);
    return response;
  }

  private async readyAnswer(key: AuthenticatedKey, name: string, version?: string) {
    const r = await this.v2.resolve(key, name, version);
    const state = await this.v2.readyState(r);
    if (!state.ready) throw v2Error('model_unavailable', `Model ${r.model.name} version ${r.version.version} is not ready: no live worker holds it warm.`);
    return { name: r.model.name, version: r.version.version, ready: true };
  }
}
