import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { AppConfig } from '#infra/config';
import { prismaAdapter } from './client.js';
import { PrismaClient } from './generated/client.js';

export interface PingResult {
  ok: boolean;
  latencyMs: number;
  error?: string;
}

/** Runs `SELECT 1` with a deadline; never throws, never waits longer than `timeoutMs`. */
export async function pingDatabase(prisma: PrismaClient, timeoutMs = 1_000): Promise<PingResult> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([prisma.$queryRawUnsafe('SELECT 1'), deadline]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, latencyMs: Math.round(performance.now() - started), error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The application's database access: a PrismaClient (use it as one: `prisma.apiKey.findUnique`)
 * built from AppConfig (DATABASE_URL, DATABASE_SCHEMA, DATABASE_POOL_SIZE). Connects when the
 * module starts and disconnects (closing the pool) when the application closes.
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  readonly schema: string;

  constructor(config: AppConfig) {
    super({ adapter: prismaAdapter({ url: config.env.DATABASE_URL, schema: config.env.DATABASE_SCHEMA, poolSize: config.env.DATABASE_POOL_SIZE }) });
    this.schema = config.env.DATABASE_SCHEMA;
  }

  async onModuleInit(): Promise<void> {
    await this.$connect();
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }

  /** Readiness probe: SELECT 1 within `timeoutMs` (default 1 s); never throws. */
  ping(timeoutMs?: number): Promise<PingResult> {
    return pingDatabase(this, timeoutMs);
  }
}
