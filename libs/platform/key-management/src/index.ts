// API-key management: the operations behind /v1/orgs/{org}/api-keys (verification is #platform/api-keys).
export { toApiKeyView, apiKeyStatus, type ApiKeyRecord, type ApiKeyView, type ApiKeyWithSecret, type ApiKeyStatus, type CreatedBy } from './api-key-view.js';
export {
  parseCreateApiKey,
  parseUpdateApiKey,
  parseRollApiKey,
  parseApiKeyListQuery,
  apiKeyListQuery,
  createApiKeyBody,
  updateApiKeyBody,
  rollApiKeyBody,
  isUuid,
  MAX_ROLL_GRACE_SECONDS,
  DEFAULT_ROLL_GRACE_SECONDS,
  type CreateApiKeyInput,
  type UpdateApiKeyInput,
  type ApiKeyListFilter,
  type PageQuery,
} from './api-key-input.js';
export { grantableProblem, assertGrantable } from './grants.js';
export { ApiKeysRepository, type ApiKeyPage, type ApiKeyChange, type TenantScope } from './api-keys.repository.js';
export { ApiKeysService } from './api-keys.service.js';
export { ApiKeyManagementModule } from './api-key-management.module.js';
