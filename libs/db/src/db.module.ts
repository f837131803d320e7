import { Global, Module } from '@nestjs/common';
import { PrismaService } from './prisma.service.js';

/** Global: import once in the root module (after ConfigModule.forRoot()), inject PrismaService anywhere. */
@Global()
@Module({ providers: [PrismaService], exports: [PrismaService] })
export class DbModule {}
