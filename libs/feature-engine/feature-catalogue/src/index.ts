// The feature catalogue: features as versioned documents (JSON/YAML files, built-in and FEATURES_DIR),
// their graph checks (ops, edges and their types, sub-graphs, the models they call, the output schema),
// input and output schemas, prices and their units, op specs. Loads neither sharp nor a model runtime
// (the gateway uses it); the op implementations and the pipeline runner are #feature-engine/features.
export type { FeatureDefinition, FeatureNode, FeaturePrice, JsonSchema, OpSpec, OpSpecs, OpTypes, PortType, SubGraph, TypeContext, UnitsRule } from './types.js';
export {
  BUILTIN_FEATURES_DIR,
  builtinFeatureCatalogue,
  createCatalogueFromDocuments,
  createFeatureCatalogue,
  FeatureCatalogue,
  FeatureCatalogueError,
  featureModels,
  findFeature,
  listFeatures,
  loadFeatureCatalogue,
  parseFeatureRef,
  FEATURES,
  IMAGE_ORIENTATION_V1,
  MAX_IMAGE_BASE64_LENGTH,
  MAX_IMAGE_BYTES,
  OCR_LINE_V1,
  type LoadOptions,
  OCR_MAX_REGIONS,
  OCR_V1,
} from './catalogue.js';
export { canonicalJson, featureDigest, inlineDocument, parseFeatureDocument, readFeatureDocuments, type FeatureDocument, type FeatureSource } from './documents.js';
export { checkGraph, FeatureDefinitionError, parseRef, validateFeatureDefinition, type GraphScope, type InputRef, type ValidationContext } from './graph.js';
export { checkPortTypes, describeType, outputSchemaProblems } from './port-types.js';
export { validateFeatureInput, validateFeatureOutput, type FieldError } from './schema.js';
export { checkUnitsRule, computeUnits, describeUnits, estimateUnits, schemaAt, valuesAt, type CallFacts } from './units.js';
export { OP_SPECS, modelParam, dictionaryAssetPath, subGraphParam, tensorOfSpec } from './op-specs.js';
