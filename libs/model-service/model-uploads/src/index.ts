// Tenants' model uploads: streamed receipt (sha256, size limit, content-addressed
// storage) and validation in an isolated process with time and memory limits.
export { receiveUpload, storeArtifact, discard, artifactPath, ONNX_FIRST_BYTE, type ReceivedFile } from './receive.js';
export { validateModelFile, validatorScript, validatorSpawn, DEFAULT_VALIDATION_LIMITS, type ValidationLimits } from './validator.js';
export { checkOnnxBytes, externalTensor, MAX_DIM, MAX_ELEMENTS, type CheckResult } from './checks.js';
export { modelRefused, type RefusalReason } from './refusal.js';
export { ValidationQueue, ValidationQueueFull, type ValidationQueueOptions } from './validation-queue.js';
export { redactPaths } from './redact.js';
