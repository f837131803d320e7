import { Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '#infra/config';
import { HealthModule, Readiness } from '#infra/http';
import { MetricsModule } from '#infra/metrics';
import { QueueModule } from '#infra/queue';
import { pingRedis, RedisClient, RedisModule } from '#infra/redis';
import { ScalerService } from './scaler.service.js';

@Module({
  imports: [ConfigModule.forRoot(), MetricsModule.forRoot('autoscaler'), HealthModule, RedisModule],
  providers: [ScalerService],
})
export class AutoscalerModule implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly redis: RedisClient,
  ) {}

  static forPools(pools: readonly string[]): DynamicModule {
    return { module: AutoscalerModule, imports: [QueueModule.forPools(pools)] };
  }

  onModuleInit(): void {
    this.readiness.register('redis', () => pingRedis(this.redis.redis));
  }
}
