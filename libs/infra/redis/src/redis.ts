import { Global, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '#infra/config';
import { redisConnectionOptions, redisTargetOf, type RedisTarget } from './connection.js';
import { RedisSigner } from './signing.js';

/**
 * A Redis connection configured for BullMQ (no per-command retry limit) that fails fast
 * instead of queueing commands forever while Redis is down. Every client Stratum opens is
 * made here, so all get the same credentials and TLS settings (`redisTargetOf(config.env)`).
 */
export function createRedis(target: RedisTarget | string, name: string): Redis {
  return new Redis({
    ...redisConnectionOptions(target),
    connectionName: name,
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (attempt) => Math.min(200 * attempt, 2_000),
    lazyConnect: false,
  });
}

/** Every Stratum key lives under the configured prefix, so tests and tenants of a Redis can share it. */
export function redisKey(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].join(':');
}

export async function pingRedis(redis: Redis, timeoutMs = 1_000): Promise<void> {
  if (redis.status !== 'ready') throw new Error(`redis ${redis.status}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('redis ping timed out')), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The process's shared command connection (not for blocking commands or subscriptions). */
@Injectable()
export class RedisClient implements OnApplicationShutdown {
  readonly redis: Redis;
  readonly prefix: string;
  /** Signs the values that decide access (cached keys, sessions) with a key derived from API_KEY_PEPPER. */
  readonly signer: RedisSigner;

  constructor(config: AppConfig) {
    this.redis = createRedis(redisTargetOf(config.env), 'stratum');
    this.prefix = config.env.REDIS_PREFIX;
    this.signer = RedisSigner.fromSecret(config.env.API_KEY_PEPPER);
  }

  key(...parts: string[]): string {
    return redisKey(this.prefix, ...parts);
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.disconnect();
  }
}

@Global()
@Module({ providers: [RedisClient], exports: [RedisClient] })
export class RedisModule {}
