export type { FeatureDefinition, FeatureNode, FeatureResult, JsonSchema, OpContext, OpDefinition, OpRegistry } from './types.js';
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
  type FeatureCatalogue,
} from './catalogue.js';
export { FeatureDefinitionError, parseRef, validateFeatureDefinition, type InputRef } from './graph.js';
export { validateFeatureInput, validateFeatureOutput, type FieldError } from './schema.js';
export { runPipeline } from './pipeline.js';
export { DEFAULT_OPS, DEFAULT_MAX_PIXELS, decodeBase64Image, decodeImage, imageToTensor, type RawImage, type ToTensorParams } from './ops.js';
export { ctcGreedyDecode, loadCtcCharset, type CtcOptions, type DecodedText } from './ctc.js';
