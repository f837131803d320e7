import { Module } from '@nestjs/common';
import { ConcurrencyConsumer, ConcurrencyLimiter } from './concurrency.js';
import { RateLimiter } from './rate-limiter.js';

/** Rate limits and the concurrency cap (needs the global Redis, config and metrics modules). */
@Module({ providers: [RateLimiter, ConcurrencyLimiter, ConcurrencyConsumer], exports: [RateLimiter, ConcurrencyLimiter, ConcurrencyConsumer] })
export class RateLimitsModule {}
