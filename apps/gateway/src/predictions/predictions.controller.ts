import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { pageQuery, parseQuery, toPage } from '#infra/errors';
import { parsePreferWait, type PredictionView } from '#platform/predictions';
import { parseCreatePredictionBody, parseIdempotencyKey } from './create-prediction.body.js';
import { PredictionsService } from './predictions.service.js';
import { ApiContract } from '../openapi/contract.js';
import { appendQuotaHeaders } from '../quotas/quota-headers.js';

@ApiTags('predictions')
@ApiBearerAuth()
@UseGuards(ApiKeyGuard)
@Controller('v1/predictions')
export class PredictionsController {
  constructor(private readonly predictions: PredictionsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a prediction', description: 'Runs a feature on the input. With `Prefer: wait[=seconds]` (at most 60) the response waits for the result; otherwise 202 at once.' })
  @ApiHeader({ name: 'Prefer', required: false, description: '`wait` or `wait=N` (seconds, 1-60)' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Retries with the same key return the first prediction instead of creating another' })
  @ApiContract({
    body: { schema: 'CreatePrediction' },
    responses: {
      200: { description: 'A replay of an earlier request with the same Idempotency-Key', schema: 'Prediction' },
      201: { description: 'Finished within the wait (succeeded, failed or canceled)', schema: 'Prediction' },
      202: { description: 'Accepted; poll the Location', schema: 'Prediction' },
    },
    problems: ['invalid_header', 'feature_not_found', 'conflict', 'quota_exceeded', 'model_unavailable', 'queue_unavailable'],
  })
  async create(
    @CurrentKey() key: AuthenticatedKey,
    @Body() body: unknown,
    @Headers('prefer') prefer: string | undefined,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PredictionView> {
    const parsed = parseCreatePredictionBody(body);
    const waitSeconds = parsePreferWait(prefer);
    const idem = parseIdempotencyKey(idempotencyKey);
    const { prediction, finished, replayed, quota } = await this.predictions.create(key, parsed, { waitSeconds, ...(idem ? { idempotencyKey: idem } : {}) });
    void reply.header('location', prediction.urls.get);
    if (waitSeconds !== null) void reply.header('preference-applied', `wait=${waitSeconds}`);
    if (replayed) void reply.header('idempotent-replayed', 'true');
    appendQuotaHeaders(reply, quota);
    void reply.status(replayed ? 200 : finished ? 201 : 202);
    return prediction;
  }

  @Get()
  @ApiOperation({ summary: 'List predictions, newest first (cursor pages)' })
  @ApiContract({ query: pageQuery, responses: { 200: { description: 'A page of predictions', schema: 'PredictionList' } } })
  async list(@CurrentKey() key: AuthenticatedKey, @Query() query: unknown) {
    return { object: 'list', ...(await this.predictions.list(key, toPage(parseQuery(pageQuery, query)))) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a prediction' })
  @ApiParam({ name: 'id' })
  @ApiContract({ responses: { 200: { description: 'The prediction', schema: 'Prediction' } }, problems: ['prediction_not_found'] })
  async get(@CurrentKey() key: AuthenticatedKey, @Param('id') id: string): Promise<PredictionView> {
    return this.predictions.get(key, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a prediction that has not finished' })
  @ApiContract({ body: null, responses: { 200: { description: 'The prediction (canceled, or already finished)', schema: 'Prediction' } }, problems: ['prediction_not_found', 'conflict'] })
  async cancel(@CurrentKey() key: AuthenticatedKey, @Param('id') id: string): Promise<PredictionView> {
    return this.predictions.cancel(key, id);
  }
}
