// The Model Service's registry: the catalogue of servable models (built-in + MODEL_REPOSITORY),
// its sync into Postgres (immutable versions, race-safe), and which versions live workers hold
// warm (Redis).
export { ModelCatalogue, servedPools } from './catalogue.js';
export { syncModelRegistry, PLATFORM_NAMESPACE, type SyncReport, type SyncOptions, type VersionSyncResult, type VersionOutcome } from './sync.js';
export { countWarm, countPoolWorkers, poolMarker, reportWarm, withdrawWarm, warmKey, POOL_MARKER_NAMESPACE, WARM_REFRESH_MS, WARM_TTL_MS, type WarmRef } from './warmth.js';
export {
  registerUploadedVersion,
  deleteUploadedVersion,
  uploadUsage,
  exceededQuota,
  isQuotaRefusal,
  uploadedVersionConfig,
  TENANT_POOL,
  type NewUploadedVersion,
  type UploadedVersionConfig,
  type UploadedVersionRecord,
  type UploadQuota,
  type UploadUsage,
  type QuotaRefusal,
  type RegisterOptions,
  type DeleteOptions,
  type DeletedVersionRecord,
} from './uploads.js';
export { ModelRegistry, type RegisteredModel, type RegisteredVersion } from './model-registry.service.js';
export { ModelRegistryModule } from './model-registry.module.js';
