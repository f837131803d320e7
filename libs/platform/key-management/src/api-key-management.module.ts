import { Module } from '@nestjs/common';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';

/** API-key management (create, list, update, revoke, roll). Needs the global DbModule, ConfigModule and ApiKeysModule. */
@Module({ providers: [ApiKeysRepository, ApiKeysService], exports: [ApiKeysRepository, ApiKeysService] })
export class ApiKeyManagementModule {}
