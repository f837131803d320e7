export { createRedis, redisKey, pingRedis, RedisModule, RedisClient } from './redis.js';
