import { Module, type OnModuleInit } from '@nestjs/common';
import { ConfigModule } from '#libs/config';
import { DbModule, PrismaService } from '#libs/db';
import { HealthModule, Readiness } from '#libs/http';
import { MetricsModule } from '#libs/metrics';
import { ModelRegistryModule } from '#libs/model-registry';
import { PredictionsModule } from '#libs/predictions';
import { pingRedis, RedisClient, RedisModule } from '#libs/redis';
import { InferenceRuntime } from './inference-runtime.service.js';

@Module({
  imports: [ConfigModule.forRoot(), MetricsModule.forRoot('worker'), HealthModule, DbModule, RedisModule, PredictionsModule, ModelRegistryModule],
  providers: [InferenceRuntime],
})
export class WorkerModule implements OnModuleInit {
  constructor(
    private readonly readiness: Readiness,
    private readonly db: PrismaService,
    private readonly redis: RedisClient,
  ) {}

  onModuleInit(): void {
    this.readiness.register('postgres', async () => {
      const r = await this.db.ping();
      if (!r.ok) throw new Error(r.error ?? 'unreachable');
    });
    this.readiness.register('redis', () => pingRedis(this.redis.redis));
  }
}
