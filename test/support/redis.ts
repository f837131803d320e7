// Test clean-up of one file's Redis keys (each test file uses its own REDIS_PREFIX).
import { Redis } from 'ioredis';
import { readProcessEnv } from '#infra/config';

/** Deletes every key under `<prefix>:`; with no connection given, opens (and closes) one. */
export async function dropRedisPrefix(prefix: string, redis?: Redis): Promise<void> {
  const conn = redis ?? new Redis(readProcessEnv().REDIS_URL);
  try {
    const keys = await conn.keys(`${prefix}:*`);
    if (keys.length) await conn.del(...keys);
  } finally {
    if (!redis) conn.disconnect();
  }
}
