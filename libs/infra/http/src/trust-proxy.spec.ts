import { afterEach, describe, expect, it } from '@jest/globals';
import { Controller, Get, Module, Req } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { createHttpApp, type HttpAppOptions } from './create-app.js';

@Controller()
class IpController {
  @Get('ip')
  ip(@Req() request: FastifyRequest): { ip: string } {
    return { ip: request.ip };
  }
}

@Module({ controllers: [IpController] })
class IpModule {}

let app: NestFastifyApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function ipSeen(trustProxy: HttpAppOptions['trustProxy']): Promise<string> {
  app = await createHttpApp(IpModule, { bodyLimit: 1024, logLevel: 'fatal', ...(trustProxy === undefined ? {} : { trustProxy }) });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const r = await app.inject({ method: 'GET', url: '/ip', remoteAddress: '10.1.2.3', headers: { 'x-forwarded-for': '203.0.113.7, 198.51.100.9' } });
  return r.json<{ ip: string }>().ip;
}

describe('trustProxy (the client address the per-IP throttles and the audit log see)', () => {
  it('ignores X-Forwarded-For by default', async () => {
    expect(await ipSeen(undefined)).toBe('10.1.2.3');
  });

  it('takes the first address when every proxy is trusted', async () => {
    expect(await ipSeen(true)).toBe('203.0.113.7');
  });

  it('walks back only as many hops as trusted', async () => {
    expect(await ipSeen(1)).toBe('198.51.100.9');
  });

  it('believes only the listed proxies', async () => {
    expect(await ipSeen(['10.0.0.0/8'])).toBe('198.51.100.9');
    expect(await ipSeen(['192.168.0.0/16'])).toBe('10.1.2.3');
  });
});
