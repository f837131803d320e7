/**
 * The onnxruntime execution providers Stratum can ask for: the one list. The config schema
 * (ORT_EXECUTION_PROVIDERS), model configs (`execution_providers`) and the session hosts
 * read it. Pure data, no dependencies (session threads and the upload validator load it).
 */
export const EXECUTION_PROVIDERS = ['cuda', 'tensorrt', 'cpu'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
