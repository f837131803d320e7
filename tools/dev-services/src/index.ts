export { ensurePostgres, type PostgresHandle, type EnsurePostgresOptions } from './postgres.js';
export { ensureRedis, pingRedis, REDIS_HOWTO, type RedisHandle, type EnsureRedisOptions } from './redis.js';
export { startPgliteServer, type PgliteServer, type PgliteServerOptions } from './pglite-server.js';
export { endpointOf, isLoopback, redactUrl, databaseOf, withDatabase, type Endpoint } from './endpoint.js';
