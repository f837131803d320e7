import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { pageQuery, parseQuery, toPage } from '#infra/errors';
import { parsePreferWait, type PredictionView } from '#platform/predictions';
import { Idempotent } from '#platform/idempotency';
import { parseCreatePredictionBody } from './create-prediction.body.js';
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
  @ApiHeader({ name: 'Cancel-After', required: false, description: 'Cancel the prediction (never billed) if it has not finished within this duration: seconds (`90`) or `30s`, `5m`, `1h30m`' })
  @Idempotent()
  @ApiContract({
    body: { schema: 'CreatePrediction' },
    responses: {
      201: { description: 'Finished within the wait (succeeded, failed or canceled)', schema: 'Prediction' },
      202: { description: 'Accepted; poll the Location', schema: 'Prediction' },
    },
    problems: ['invalid_header', 'feature_not_found', 'conflict', 'idempotency_in_flight', 'idempotency_key_reused', 'quota_exceeded', 'concurrency_limited', 'org_suspended', 'model_unavailable', 'queue_unavailable'],
  })
  async create(
    @CurrentKey() key: AuthenticatedKey,
    @Body() body: unknown,
    @Headers('prefer') prefer: string | undefined,
    @Headers('cancel-after') cancelAfter: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PredictionView> {
    const parsed = parseCreatePredictionBody(body);
    const waitSeconds = parsePreferWait(prefer);
    const cancelAfterMs = this.predictions.parseCancelAfter(cancelAfter);
    const { prediction, finished, quota } = await this.predictions.create(key, parsed, { waitSeconds, ...(cancelAfterMs !== undefined ? { cancelAfterMs } : {}) });
    void reply.header('location', prediction.urls.get);
    if (waitSeconds !== null) void reply.header('preference-applied', `wait=${waitSeconds}`);
    appendQuotaHeaders(reply, quota);
    void reply.status(finished ? 201 : 202);
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
