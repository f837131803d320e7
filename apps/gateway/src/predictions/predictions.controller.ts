import { Body, Controller, Get, Headers, HttpCode, Param, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ApiKeyGuard, CurrentKey, type AuthenticatedKey } from '#platform/api-keys';
import { ProblemError } from '#infra/errors';
import { parsePreferWait, type PredictionView } from '#platform/predictions';
import { Idempotent } from '#platform/idempotency';
import { parseCreatePredictionBody } from './create-prediction.body.js';
import { PredictionsService } from './predictions.service.js';

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
  @ApiBody({ schema: { $ref: '#/components/schemas/CreatePrediction' } })
  @ApiResponse({ status: 201, description: 'Finished within the wait (succeeded, failed or canceled)' })
  @ApiResponse({ status: 202, description: 'Accepted; poll the Location' })
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
    const { prediction, finished } = await this.predictions.create(key, parsed, { waitSeconds, ...(cancelAfterMs !== undefined ? { cancelAfterMs } : {}) });
    void reply.header('location', prediction.urls.get);
    if (waitSeconds !== null) void reply.header('preference-applied', `wait=${waitSeconds}`);
    void reply.status(finished ? 201 : 202);
    return prediction;
  }

  @Get()
  @ApiOperation({ summary: 'List predictions, newest first (cursor pages)' })
  @ApiQuery({ name: 'limit', required: false, description: '1-100, default 20' })
  @ApiQuery({ name: 'starting_after', required: false, description: 'next_cursor of the previous page' })
  async list(@CurrentKey() key: AuthenticatedKey, @Query('limit') limit?: string, @Query('starting_after') after?: string) {
    const n = limit === undefined ? 20 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 100) throw new ProblemError('bad_request', 'limit must be an integer from 1 to 100.');
    return { object: 'list', ...(await this.predictions.list(key, { limit: n, ...(after ? { after } : {}) })) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a prediction' })
  @ApiParam({ name: 'id' })
  async get(@CurrentKey() key: AuthenticatedKey, @Param('id') id: string): Promise<PredictionView> {
    return this.predictions.get(key, id);
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel a prediction that has not finished' })
  async cancel(@CurrentKey() key: AuthenticatedKey, @Param('id') id: string): Promise<PredictionView> {
    return this.predictions.cancel(key, id);
  }
}
