import { Body, Controller, Get, Headers, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Idempotent } from '#platform/idempotency';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { v2Error, type V2InferResponse, type V2ModelMetadata } from '#model-service/inference-protocol';
import { parsePreferWait } from '#platform/predictions';
import { ApiContract } from '../openapi/contract.js';
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
 * The protocol's server health routes, for probes: no key (edgeAuthOf lets them through), and
 * only the verdict (which dependency failed is on the admin listener).
 */
@ApiTags('v2 (Open Inference Protocol)')
@Controller('v2/health')
export class V2HealthController {
  constructor(private readonly v2: V2Service) {}

  @Get('live')
  @ApiOperation({ summary: 'Server liveness (200 while the gateway answers); no key needed' })
  @ApiContract({ responses: { 200: { description: 'Live', schema: { json: { type: 'object', required: ['live'], properties: { live: { const: true } } } } } } })
  live() {
    return { live: true };
  }

  @Get('ready')
  @ApiOperation({ summary: 'Server readiness, no key needed: 200 {ready: true} when Postgres and Redis answer and a live worker holds a model warm (or serves uploads), else 503 {ready: false}' })
  @ApiContract({
    responses: {
      200: { description: 'Ready', schema: { json: { type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' } } } } },
      503: { description: 'Not ready: {ready: false} (the reasons are on the admin listener)', schema: { json: { type: 'object', required: ['ready'], properties: { ready: { const: false } } } } },
    },
  })
  async ready(@Res({ passthrough: true }) reply: FastifyReply) {
    const ready = await this.v2.serverReady();
    void reply.status(ready ? 200 : 503).header('cache-control', 'no-store');
    return { ready };
  }
}

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
  @ApiContract({ responses: { 200: { description: 'Server metadata', schema: 'V2ServerMetadata' } } })
  server() {
    return { name: SERVER_NAME, version: SERVER_VERSION, extensions: SERVER_EXTENSIONS };
  }

  @Get('models/:name')
  @ApiOperation({ summary: 'Model metadata (default version): name, versions, platform, inputs, outputs' })
  @ApiContract({ responses: { 200: { description: 'Model metadata', schema: 'V2ModelMetadata' } }, problems: ['model_not_found'] })
  async metadata(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string): Promise<V2ModelMetadata> {
    return this.v2.metadata(key, name);
  }

  @Get('models/:name/versions/:version')
  @ApiOperation({ summary: 'Model metadata of one version' })
  @ApiContract({ responses: { 200: { description: 'Model metadata', schema: 'V2ModelMetadata' } }, problems: ['model_not_found'] })
  async versionMetadata(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string, @Param('version') version: string): Promise<V2ModelMetadata> {
    return this.v2.metadata(key, name, version);
  }

  @Get('models/:name/ready')
  @ApiOperation({ summary: "Model readiness (default version): 200 {name, ready: true} when it can serve now, else 503 with the protocol's `error`" })
  @ApiContract({ responses: { 200: { description: 'Ready', schema: 'V2ModelReady' } }, problems: ['model_not_found', 'model_unavailable'] })
  async modelReady(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string) {
    return this.readyAnswer(key, name);
  }

  @Get('models/:name/versions/:version/ready')
  @ApiOperation({ summary: 'Readiness of one version' })
  @ApiContract({ responses: { 200: { description: 'Ready', schema: 'V2ModelReady' } }, problems: ['model_not_found', 'model_unavailable'] })
  async versionReady(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string, @Param('version') version: string) {
    return this.readyAnswer(key, name, version);
  }

  @Post('models/:name/infer')
  @Idempotent()
  @HttpCode(200)
  @ApiOperation({ summary: 'Inference on the default version (JSON tensors)', description: 'Waits for the result (60 s by default, `Prefer: wait=N` for less); 504 `prediction_timeout` past it.' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`wait=N`: wait at most N seconds (1-60)' })
  @ApiContract({
    body: { schema: { json: INFER_REQUEST_SCHEMA }, name: 'V2InferRequest' },
    responses: { 200: { description: 'The outputs', schema: 'V2InferResponse' } },
    problems: ['bad_request', 'model_not_found', 'invalid_tensor', 'model_error', 'model_timeout', 'model_memory_exceeded', 'quota_exceeded', 'concurrency_limited', 'org_suspended', 'model_unavailable', 'queue_unavailable', 'conflict', 'internal_error', 'prediction_timeout'],
  })
  async infer(@CurrentKey() key: AuthenticatedKey, @Param('name') name: string, @Body() body: unknown, @Headers('prefer') prefer: string | undefined, @Res({ passthrough: true }) reply: FastifyReply): Promise<V2InferResponse> {
    return this.runInfer(key, name, undefined, body, prefer, reply);
  }

  @Post('models/:name/versions/:version/infer')
  @Idempotent()
  @HttpCode(200)
  @ApiOperation({ summary: 'Inference on one version (JSON tensors)' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`wait=N`: wait at most N seconds (1-60)' })
  @ApiContract({
    body: { schema: { json: INFER_REQUEST_SCHEMA }, name: 'V2InferRequest' },
    responses: { 200: { description: 'The outputs', schema: 'V2InferResponse' } },
    problems: ['bad_request', 'model_not_found', 'invalid_tensor', 'model_error', 'model_timeout', 'model_memory_exceeded', 'quota_exceeded', 'concurrency_limited', 'org_suspended', 'model_unavailable', 'queue_unavailable', 'conflict', 'internal_error', 'prediction_timeout'],
  })
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
