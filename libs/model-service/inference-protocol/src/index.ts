// Open Inference Protocol (KServe v2) over JSON: request validation against a model
// signature, tensor conversion, response and metadata encoding. Pure.
export {
  V2_DATATYPES,
  specDType,
  v2Datatype,
  v2Shape,
  modelMetadata,
  parseInferRequest,
  encodeOutputs,
  fromV2Datatype,
  v2Error,
  type InferLimits,
  type ParsedInferRequest,
  type V2InferResponse,
  type V2MetadataTensor,
  type V2ModelMetadata,
  type V2ResponseTensor,
} from './codec.js';
export { toWire, fromWire, type WireTensor } from './wire.js';
