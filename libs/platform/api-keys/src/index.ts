export { generateApiKey, parseApiKey, digestApiKey, digestsEqual, displayPrefixOf, randomBase62, KEY_RANDOM_LENGTH, type GeneratedKey, type KeyMode } from './key-format.js';
export { TtlCache } from './ttl-cache.js';
export { ApiKeyVerifier, bearerToken, unauthenticated, type AuthenticatedKey } from './api-key-verifier.js';
export { publishKeyInvalidation, apiKeyCacheKey, invalidationChannel, type CachedKey } from './key-cache.js';
export { LastUsedBuffer, lastUsedUpdate } from './last-used.js';
export { ApiKeyGuard, CurrentKey } from './api-key.guard.js';
export { ApiKeysModule } from './api-keys.module.js';
// Management: the operations behind /v1/orgs/{org}/api-keys.
export { toApiKeyView, apiKeyStatus, type ApiKeyRecord, type ApiKeyView, type ApiKeyWithSecret, type ApiKeyStatus, type CreatedBy } from './management/api-key-view.js';
export {
  parseCreateApiKey,
  parseUpdateApiKey,
  parseRollApiKey,
  parseApiKeyListFilter,
  parsePage,
  isUuid,
  KEY_SCOPES,
  MAX_ROLL_GRACE_SECONDS,
  DEFAULT_ROLL_GRACE_SECONDS,
  type CreateApiKeyInput,
  type UpdateApiKeyInput,
  type ApiKeyListFilter,
  type PageQuery,
} from './management/api-key-input.js';
export { grantableProblem, assertGrantable } from './management/grants.js';
export { ApiKeysRepository, type ApiKeyPage, type ApiKeyChange, type TenantScope } from './management/api-keys.repository.js';
export { ApiKeysService } from './management/api-keys.service.js';
export { ApiKeyManagementModule } from './management/api-key-management.module.js';
