// Neutral tensor data (no runtime, no dependencies): what features, workers, the batcher and the
// inference protocol exchange instead of onnxruntime tensors.
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
