import { Global, Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyVerifier } from './api-key-verifier.js';

@Global()
@Module({ providers: [ApiKeyVerifier, ApiKeyGuard], exports: [ApiKeyVerifier, ApiKeyGuard] })
export class ApiKeysModule {}
