import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { Global, Injectable, Logger, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { AppConfig } from '#infra/config';
import { createRedis, redisTargetOf } from '#infra/redis';
import { inferenceQueueName, type InferenceJobData } from './inference-job.js';
import { InferenceQueues } from './inference-queues.js';

/** The one Redis connection the producers share (its status answers "is the queue reachable" at once). */
@Injectable()
export class QueueConnection implements OnApplicationShutdown {
  private readonly logger = new Logger('QueueConnection');
  readonly redis: Redis;
  readonly prefix: string;

  constructor(config: AppConfig) {
    this.redis = createRedis(redisTargetOf(config.env), 'stratum-queues');
    this.redis.on('error', (e: Error) => this.logger.warn(`redis: ${e.message}`));
    this.prefix = config.env.REDIS_PREFIX;
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}

@Module({ providers: [QueueConnection], exports: [QueueConnection] })
class QueueConnectionModule {}

/**
 * The model-pool queues, registered with @nestjs/bullmq: `BullModule.forRootAsync` (the shared
 * connection and the key prefix from the config) and one `registerQueue` per pool. The pool set
 * comes from the model catalogue, read before the app module is built (`forPools`), so every
 * queue is a Nest provider (`getQueueToken(inferenceQueueName(pool))`, or `@InjectQueue` with
 * that name) that @nestjs/bullmq closes on shutdown.
 */
@Global()
@Module({})
export class QueueModule {
  static forPools(pools: readonly string[]): DynamicModule {
    const names = [...new Set(pools)].map((pool) => ({ pool, name: inferenceQueueName(pool) }));
    return {
      module: QueueModule,
      imports: [
        QueueConnectionModule,
        BullModule.forRootAsync({
          imports: [QueueConnectionModule],
          inject: [QueueConnection],
          useFactory: (c: QueueConnection) => ({ connection: c.redis, prefix: c.prefix }),
        }),
        BullModule.registerQueue(...names.map(({ name }) => ({ name }))),
      ],
      providers: [
        {
          provide: InferenceQueues,
          inject: [QueueConnection, ...names.map(({ name }) => getQueueToken(name))],
          useFactory: (connection: QueueConnection, ...queues: Queue<InferenceJobData>[]) => new InferenceQueues(connection.redis, new Map(names.map(({ pool }, i) => [pool, queues[i]!]))),
        },
      ],
      exports: [InferenceQueues, QueueConnectionModule],
    };
  }
}
