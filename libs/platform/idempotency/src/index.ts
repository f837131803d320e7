export { parseIdempotencyKey, parseCancelAfter, invalidHeader, MAX_IDEMPOTENCY_KEY_LENGTH } from './headers.js';
export { canonicalJson, requestFingerprint } from './fingerprint.js';
export { decide, type IdempotencyDecision, type StoredKey } from './decision.js';
export { IdempotencyStore, type BeginResult, type Claim, type StoredResponse } from './idempotency.store.js';
export { IdempotencyInterceptor, Idempotent, idempotencyScope } from './idempotency.interceptor.js';
export { IdempotencyModule } from './idempotency.module.js';
