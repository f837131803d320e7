import { Module, type OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '#libs/config';
import { HealthModule, Readiness } from '#libs/http';
import { MetricsModule } from '#libs/metrics';
import { QueueModule } from '#libs/queue';
import { pingRedis, RedisClient, RedisModule } from '#libs/redis';
import { ScalerService } from './scaler.service.js';

@Module({
  imports: [ConfigModule.forRoot(), MetricsModule.forRoot('autoscaler'), HealthModule, RedisModule, QueueModule],
  providers: [ScalerService],
})
export class AutoscalerModule implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly redis: RedisClient,
  ) {}

  onModuleInit(): void {
    this.readiness.register('redis', () => pingRedis(this.redis.redis));
  }
}
