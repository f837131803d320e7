// ONNX models built in code (onnx-proto) with pure-JS references, for tests and benchmarks:
// outputs are known exactly and nothing is downloaded. Dev-only: production code never imports it.
export {
  buildDenseMlp,
  DENSE_INPUT_NAME,
  DENSE_MLP_SPEC,
  DENSE_MLP_WIDE_SPEC,
  DENSE_MODEL,
  DENSE_OUTPUT_NAME,
  denseMlpInput,
  denseMlpLayers,
  denseMlpReference,
  type DenseLayer,
  type DenseMlpSpec,
} from './dense-model.js';
export {
  buildTinyClassifier,
  tinyClassifierReference,
  TINY_CLASSIFIER_SPEC,
  TINY_INPUT_NAME,
  TINY_MODEL,
  TINY_OUTPUT_NAME,
  writeTinyRepository,
  type TinyClassifierSpec,
  type TinyRepositoryModel,
} from './tiny-model.js';
export { float32Raw, floatValueInfo } from './onnx-build.js';
export { BOMB_OUTPUT, BOMB_SHAPE_INPUT, buildExternalDataModel, buildLoopBomb, buildOutputBomb, LOOP_TRIPS_INPUT } from './hostile-models.js';
