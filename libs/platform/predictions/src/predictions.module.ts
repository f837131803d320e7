import { Global, Module } from '@nestjs/common';
import { PredictionLifecycle } from './lifecycle.js';
import { PredictionEvents } from './prediction-events.js';
import { PredictionsRepository } from './predictions.repository.js';

/** The prediction lifecycle, its reads and its "finished" notifications (needs DbModule, RedisModule and QueueModule). */
@Global()
@Module({ providers: [PredictionsRepository, PredictionEvents, PredictionLifecycle], exports: [PredictionsRepository, PredictionEvents, PredictionLifecycle] })
export class PredictionsModule {}
