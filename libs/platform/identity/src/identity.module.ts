import { Global, Module } from '@nestjs/common';
import { SessionStore } from './sessions.js';
import { UsersRepository } from './users.js';

/** Users, passwords and dashboard sessions. Needs ConfigModule, DbModule and RedisModule (global). */
@Global()
@Module({ providers: [SessionStore, UsersRepository], exports: [SessionStore, UsersRepository] })
export class IdentityModule {}
