import { Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '#infra/config';
import { DbModule, PrismaService } from '#infra/db';
import { HealthModule, Readiness } from '#infra/http';
import { MetricsModule } from '#infra/metrics';
import { ModelRegistryModule } from '#model-service/model-registry';
import { FeatureRegistryModule } from '#feature-engine/feature-registry';
import { PredictionsModule } from '#platform/predictions';
import { QueueModule } from '#infra/queue';
import { pingRedis, RedisClient, RedisModule } from '#infra/redis';
import { InferenceRuntime } from './inference-runtime.service.js';

@Module({
  imports: [ConfigModule.forRoot(), MetricsModule.forRoot('worker'), HealthModule, DbModule, RedisModule, PredictionsModule, ModelRegistryModule, FeatureRegistryModule],
  providers: [InferenceRuntime],
})
export class WorkerModule implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly db: PrismaService,
    private readonly redis: RedisClient,
  ) {}

  /** The worker with the pools' queues registered for the lifecycle's producer side (it consumes with its own BullMQ workers: docs/DECISIONS.md). */
  static forPools(pools: readonly string[]): DynamicModule {
    return { module: WorkerModule, imports: [QueueModule.forPools(pools)] };
  }

  onModuleInit(): void {
    this.readiness.register('postgres', async () => {
      const r = await this.db.ping();
      if (!r.ok) throw new Error(r.error ?? 'unreachable');
    });
    this.readiness.register('redis', () => pingRedis(this.redis.redis));
  }
}
