// Running features: the op implementations (image decoding with sharp, model runs, CTC) and the
// pipeline runner. The catalogue, graph checks and schemas are #feature-engine/feature-catalogue.
export type { FeatureResult, OpContext, OpDefinition, OpRegistry } from './types.js';
export { runPipeline } from './pipeline.js';
export { DEFAULT_OPS, DEFAULT_MAX_PIXELS, decodeBase64Image, decodeImage, imageToTensor, type RawImage, type ToTensorParams } from './ops.js';
export { ctcGreedyDecode, loadCtcCharset, type CtcOptions, type DecodedText } from './ctc.js';
export { assembleLines, joinTexts, mapConcurrently, pageTensorSize, topK, type LineRead, type OcrLine } from './ops.js';
export { cropQuad, rotateImage, isRawImage } from './image-ops.js';
export { detectTextBoxes, readingOrder, DEFAULT_MAX_REGIONS, type DetectBoxesParams, type TextBox } from './text-detection.js';
export { applyHomography, convexHull, homography, minAreaRect, orderQuad, rectCorners, type Point, type Quad, type RotatedRect } from './geometry.js';
