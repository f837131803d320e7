// The feature catalogue: features as versioned pipelines declared as data, their graph checks,
// input/output schemas and op specs. Loads neither sharp nor a model runtime (the gateway uses it);
// the op implementations and the pipeline runner are #feature-engine/features.
export type { FeatureDefinition, FeatureNode, JsonSchema, OpSpec, OpSpecs, SubGraph } from './types.js';
export {
  createFeatureCatalogue,
  featureModels,
  findFeature,
  listFeatures,
  FEATURES,
  IMAGE_ORIENTATION_V1,
  MAX_IMAGE_BASE64_LENGTH,
  MAX_IMAGE_BYTES,
  OCR_LINE_V1,
  OCR_MAX_REGIONS,
  OCR_V1,
  type FeatureCatalogue,
} from './catalogue.js';
export { checkGraph, FeatureDefinitionError, parseRef, validateFeatureDefinition, type GraphScope, type InputRef } from './graph.js';
export { validateFeatureInput, validateFeatureOutput, type FieldError } from './schema.js';
export { OP_SPECS, modelParam, dictionaryAssetPath, subGraphParam } from './op-specs.js';
