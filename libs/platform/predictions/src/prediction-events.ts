import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '#infra/config';
import { createRedis, RedisClient, redisTargetOf } from '#infra/redis';

/**
 * "Prediction X reached a final state" notifications over Redis pub/sub, so a gateway
 * holding a `Prefer: wait` request answers as soon as any worker finishes, on any machine.
 * Only the id travels; the state is read back from Postgres, the record of truth.
 */
@Injectable()
export class PredictionEvents implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('PredictionEvents');
  private readonly waiters = new Map<string, Set<() => void>>();
  private subscriber: Redis | undefined;
  private readonly channel: string;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: AppConfig,
  ) {
    this.channel = redis.key('prediction-events');
  }

  async onModuleInit(): Promise<void> {
    const sub = createRedis(redisTargetOf(this.config.env), 'stratum-prediction-events');
    sub.on('error', (e: Error) => this.logger.warn(`redis: ${e.message}`));
    sub.on('message', (_channel: string, id: string) => {
      const set = this.waiters.get(id);
      if (set) for (const wake of set) wake();
    });
    this.subscriber = sub;
    // Subscribing is retried by ioredis on reconnect; do not block start-up on it.
    sub.subscribe(this.channel).catch((e: unknown) => this.logger.warn(`subscribe failed: ${String(e)}`));
  }

  async publishFinished(predictionId: string): Promise<void> {
    await this.redis.redis.publish(this.channel, predictionId);
  }

  /** Resolves true when the prediction is announced as finished, false after `ms`. */
  waitFor(predictionId: string, ms: number): { done: Promise<boolean>; cancel: () => void } {
    let wake!: () => void;
    let timer: NodeJS.Timeout | undefined;
    const done = new Promise<boolean>((resolve) => {
      wake = () => resolve(true);
      timer = setTimeout(() => resolve(false), ms);
    });
    let set = this.waiters.get(predictionId);
    if (!set) this.waiters.set(predictionId, (set = new Set()));
    set.add(wake);
    const cancel = () => {
      clearTimeout(timer);
      const s = this.waiters.get(predictionId);
      s?.delete(wake);
      if (s && s.size === 0) this.waiters.delete(predictionId);
    };
    void done.then(cancel);
    return { done, cancel };
  }

  async onApplicationShutdown(): Promise<void> {
    this.subscriber?.disconnect();
  }
}
