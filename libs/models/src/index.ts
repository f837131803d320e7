export {
  elementCount,
  float32Tensor,
  modelKey,
  TENSOR_DTYPES,
  type ModelRef,
  type ModelRunner,
  type ModelSignature,
  type TensorData,
  type TensorDType,
  type TensorSpec,
} from './tensor.js';
export { SHIPPED_MODELS, compareVersions, findShippedModel, poolsOf, type ModelConfig, type ShippedModel } from './catalogue.js';
export { OnnxModelHost, providerAttempts, type ExecutionProvider, type HostObserver, type LoadOptions, type ModelStatus } from './host.js';
export {
  buildTinyClassifier,
  tinyClassifierReference,
  TINY_CLASSIFIER_SPEC,
  TINY_INPUT_NAME,
  TINY_MODEL,
  TINY_OUTPUT_NAME,
  type TinyClassifierSpec,
} from './tiny-model.js';
