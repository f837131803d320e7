// The served feature catalogue as a Nest provider (built-in documents + FEATURES_DIR, validated
// against the deployment's models at start-up) and the immutability of published versions (Postgres).
export { FeatureRegistryModule, FeatureVersions } from './feature-registry.module.js';
export { changedVersions, FeatureVersionChangedError, recordFeatureVersions, type RecordedVersion } from './versions.js';
