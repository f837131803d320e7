import { Global, Module } from '@nestjs/common';
import { PrismaClient } from './generated/client.js';
import { PrismaService } from './prisma.service.js';

/** Global: import once in the root module (after ConfigModule.forRoot()), inject PrismaService (or PrismaClient, the same instance) anywhere. */
@Global()
@Module({
  providers: [PrismaService, { provide: PrismaClient, useExisting: PrismaService }],
  exports: [PrismaService, PrismaClient],
})
export class DbModule {}
