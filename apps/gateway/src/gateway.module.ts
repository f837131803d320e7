import { Module, type OnModuleInit } from '@nestjs/common';
import { ApiKeysModule } from '#libs/api-keys';
import { ConfigModule } from '#libs/config';
import { DbModule, PrismaService } from '#libs/db';
import { HealthModule, Readiness } from '#libs/http';
import { MetricsModule, MetricsRegistry } from '#libs/metrics';
import { poolsOf, SHIPPED_MODELS } from '#libs/models';
import { PredictionsModule } from '#libs/predictions';
import { InferenceQueues, QueueModule, registerQueueDepthGauge } from '#libs/queue';
import { pingRedis, RedisClient, RedisModule } from '#libs/redis';
import { FeaturesController } from './features/features.controller.js';
import { PredictionsController } from './predictions/predictions.controller.js';
import { PredictionsService } from './predictions/predictions.service.js';

@Module({
  imports: [ConfigModule.forRoot(), MetricsModule.forRoot('gateway'), HealthModule, DbModule, RedisModule, QueueModule, ApiKeysModule, PredictionsModule],
  controllers: [PredictionsController, FeaturesController],
  providers: [PredictionsService],
})
export class GatewayModule implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly db: PrismaService,
    private readonly redis: RedisClient,
    private readonly metrics: MetricsRegistry,
    private readonly queues: InferenceQueues,
  ) {}

  onModuleInit(): void {
    this.readiness.register('postgres', async () => {
      const r = await this.db.ping();
      if (!r.ok) throw new Error(r.error ?? 'unreachable');
    });
    this.readiness.register('redis', () => pingRedis(this.redis.redis));
    const pools = poolsOf(SHIPPED_MODELS);
    registerQueueDepthGauge(this.metrics, this.queues, () => pools);
  }
}
