// The baseline of `npm run bench:gateway`: a bare NestJS-on-Fastify app (the gateway's Nest and
// Fastify versions, no plugins, no hooks) with two routes answering the same JSON as the
// gateway's `/healthz` and `GET /v1/features`. Started as its own process by gateway-throughput.ts:
//   node dist/bench/bare-app.js <port> <file holding the /v1/features body>
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';

const port = Number(process.argv[2]);
const features = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as unknown;

@Controller()
class BareController {
  @Get('healthz')
  healthz(): { status: string } {
    return { status: 'ok' };
  }

  @Get('v1/features')
  features(): unknown {
    return features;
  }
}

@Module({ controllers: [BareController] })
class BareModule {}

const app = await NestFactory.create<NestFastifyApplication>(BareModule, new FastifyAdapter(), { logger: ['error'] });
await app.listen({ host: '127.0.0.1', port });
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
