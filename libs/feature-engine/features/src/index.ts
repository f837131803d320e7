// Running features: the op implementations (image decoding with sharp, model runs, CTC) and the
// pipeline runner. The catalogue, graph checks and schemas are #feature-engine/feature-catalogue.
export type { FeatureResult, OpContext, OpDefinition, OpRegistry } from './types.js';
export { runPipeline } from './pipeline.js';
export { DEFAULT_OPS, DEFAULT_MAX_PIXELS, decodeBase64Image, decodeImage, imageToTensor, type RawImage, type ToTensorParams } from './ops.js';
export { ctcGreedyDecode, loadCtcCharset, type CtcOptions, type DecodedText } from './ctc.js';
