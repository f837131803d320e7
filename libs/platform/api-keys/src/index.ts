export { API_KEY_SCOPES, isScope, type ApiKeyScope } from './scopes.js';
export { generateApiKey, parseApiKey, digestApiKey, digestsEqual, displayPrefixOf, randomBase62, KEY_RANDOM_LENGTH, type GeneratedKey, type KeyMode } from './key-format.js';
export { TtlCache } from './ttl-cache.js';
export { ApiKeyVerifier, bearerToken, unauthenticated, type AuthenticatedKey } from './api-key-verifier.js';
export { publishKeyInvalidation, apiKeyCacheKey, invalidationChannel, encodeSignedLookup, decodeSignedLookup, type CachedKey } from './key-cache.js';
export { LastUsedBuffer, lastUsedUpdate } from './last-used.js';
export { ApiKeyGuard, CurrentKey } from './api-key.guard.js';
export { ApiKeysModule } from './api-keys.module.js';
