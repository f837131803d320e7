import { Global, Module } from '@nestjs/common';
import { PredictionEvents } from './prediction-events.js';
import { PredictionsRepository } from './predictions.repository.js';

@Global()
@Module({ providers: [PredictionsRepository, PredictionEvents], exports: [PredictionsRepository, PredictionEvents] })
export class PredictionsModule {}
