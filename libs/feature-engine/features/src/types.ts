import type { OpSpec } from '#feature-engine/feature-catalogue';
import type { ModelRef, ModelRunner } from '#model-service/tensors';

export interface FeatureResult {
  output: unknown;
  /** The model versions that served the call, in first-use order. */
  models: ModelRef[];
  units: number;
  unitType: string;
}

export interface OpContext {
  runner: ModelRunner;
  /** Records a model that served this call. */
  useModel(ref: ModelRef): void;
}

/** An op implementation: its spec (#feature-engine/feature-catalogue) plus a plain async function. */
export interface OpDefinition extends OpSpec {
  run(inputs: Record<string, unknown>, params: Record<string, unknown>, ctx: OpContext): Promise<unknown>;
}

export type OpRegistry = ReadonlyMap<string, OpDefinition>;
