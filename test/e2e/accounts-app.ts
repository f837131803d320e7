// The accounts/organizations slice of the gateway as an in-process Nest app on Fastify
// (app.inject, no sockets), with its own Postgres schema and Redis prefix per test file.
import { expect } from '@jest/globals';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { ApiKeysModule } from '#platform/api-keys';
import { ApiKeyManagementModule } from '#platform/key-management';
import { ConfigModule, parseEnv, readProcessEnv, type Env } from '#infra/config';
import { DbModule, uuidv7 } from '#infra/db';
import { ProblemFilter } from '#infra/http';
import { IdentityModule } from '#platform/identity';
import { RedisModule } from '#infra/redis';
import { TenancyModule } from '#platform/tenancy';
import { AuthController } from '../../apps/gateway/src/auth/auth.controller.js';
import { AuthService } from '../../apps/gateway/src/auth/auth.service.js';
import { OrgController, OrgsController } from '../../apps/gateway/src/orgs/orgs.controller.js';
import { OrgsService } from '../../apps/gateway/src/orgs/orgs.service.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { dropRedisPrefix } from '../support/redis.js';
import { insertApiKey } from '../support/keys.js';

export const PEPPER = 'accounts-pepper-' + 'x'.repeat(32);

export interface AccountsApp {
  app: NestFastifyApplication;
  db: TestDatabase;
  env: Env;
  redis: Redis;
  prefix: string;
  close(): Promise<void>;
}

export async function startAccountsApp(label: string, extra: Record<string, string> = {}): Promise<AccountsApp> {
  const db = await createTestDatabase(label);
  await db.prisma.plan.create({ data: { id: uuidv7(), key: 'free', name: 'Free', rateLimitPerMinute: 60, monthlyQuotaUnits: 1000 } });
  const prefix = `${label}_${randomBytes(4).toString('hex')}`;
  const base = readProcessEnv();
  const env = parseEnv({
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: base.REDIS_URL,
    REDIS_PREFIX: prefix,
    API_KEY_PEPPER: PEPPER,
    LOG_LEVEL: 'error',
    NODE_ENV: 'test',
    ...extra,
  });

  @Module({
    imports: [ConfigModule.forRoot(env), DbModule, RedisModule, ApiKeysModule, IdentityModule, TenancyModule, ApiKeyManagementModule],
    controllers: [AuthController, OrgsController, OrgController],
    providers: [AuthService, OrgsService],
  })
  class AccountsTestModule {}

  const moduleRef = await Test.createTestingModule({ imports: [AccountsTestModule] }).setLogger(false as never).compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: ['error'] });
  app.useGlobalFilters(new ProblemFilter());
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const redis = new Redis(base.REDIS_URL);
  return {
    app,
    db,
    env,
    redis,
    prefix,
    async close() {
      await app.close();
      await dropRedisPrefix(prefix, redis);
      redis.disconnect();
      await db.drop();
    },
  };
}

/** Creates an API key of an organization directly in the database; returns the secret. */
export async function createKey(a: AccountsApp, orgId: string, scopes: string[], mode: 'live' | 'test' = 'test'): Promise<string> {
  return (await insertApiKey(a.db.prisma, PEPPER, orgId, { mode, scopes, name: 'k' })).secret;
}

export interface Res {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  json: any;
}

/** A browser-like client: keeps the session cookie, sends the CSRF token when asked. */
export class Client {
  cookie: string | null = null;
  csrf: string | null = null;

  constructor(
    private readonly a: AccountsApp,
    readonly ip = '10.0.0.1',
  ) {}

  async call(method: string, url: string, opts: { body?: unknown; key?: string; csrf?: boolean | string; cookie?: boolean } = {}): Promise<Res> {
    const headers: Record<string, string> = {};
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.key) headers['authorization'] = `Bearer ${opts.key}`;
    if (this.cookie && opts.cookie !== false) headers['cookie'] = `stratum_session=${this.cookie}`;
    const csrf = opts.csrf ?? true;
    if (csrf === true && this.csrf) headers['x-csrf-token'] = this.csrf;
    if (typeof csrf === 'string') headers['x-csrf-token'] = csrf;
    const res = await this.a.app.inject({ method: method as 'GET', url, headers, remoteAddress: this.ip, ...(opts.body !== undefined ? { payload: JSON.stringify(opts.body) } : {}) });
    let json: any;
    try {
      json = res.json();
    } catch {
      json = res.body;
    }
    const setCookie = res.headers['set-cookie'];
    const line = Array.isArray(setCookie) ? setCookie[0] : setCookie;
    if (typeof line === 'string' && line.startsWith('stratum_session=')) {
      const value = line.slice('stratum_session='.length).split(';')[0]!;
      this.cookie = value === '' ? null : value;
    }
    if (json && typeof json === 'object' && typeof json.csrf_token === 'string') this.csrf = json.csrf_token;
    if (json && typeof json === 'object' && json.user && typeof json.user.csrf_token === 'string') this.csrf = json.user.csrf_token;
    return { status: res.statusCode, headers: res.headers, json };
  }

  /** Signs up (202, no session) and, when accepted, logs in: returns the log-in's answer (the user and their organizations). */
  async signup(email: string, password = 'correct horse battery', extra: Record<string, unknown> = {}): Promise<Res> {
    const r = await this.signupOnly(email, password, extra);
    if (r.status !== 202) return r;
    return this.call('POST', '/v1/auth/login', { body: { email, password } });
  }

  /** POST /v1/auth/signup alone. */
  async signupOnly(email: string, password = 'correct horse battery', extra: Record<string, unknown> = {}): Promise<Res> {
    return this.call('POST', '/v1/auth/signup', { body: { email, password, ...extra } });
  }
}

export function expectProblem(r: Res, status: number, code: string): void {
  expect({ status: r.status, code: r.json?.code }).toEqual({ status, code });
  expect(String(r.headers['content-type'])).toMatch(/^application\/problem\+json/);
}
