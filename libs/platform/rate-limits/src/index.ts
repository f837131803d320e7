export { emissionMs, gcraTake, keyPolicy, leaseSize, rateLimitHeaders, retryAfterSeconds, LEASE_MAX, LEASE_MAX_SHARE, LEASE_MIN_REMAINING, type BucketState, type Grant, type RatePolicy } from './gcra.js';
export { RateLimiter, LEASE_MS, type RateLimitSubject, type RateLimitHeaders } from './rate-limiter.js';
export { ConcurrencyLimiter, ConcurrencyConsumer, type ConcurrencySlot, type ConcurrencySubject } from './concurrency.js';
export { RateLimitsModule } from './rate-limits.module.js';
