export { createRedis, redisKey, pingRedis, RedisModule, RedisClient } from './redis.js';
export { redisConnectionOptions, redisTargetOf, type RedisTarget } from './connection.js';
export { RedisSigner, deriveRedisSigningKey, signRedisValue, openRedisValue } from './signing.js';
