import type { OpSpec, SubGraph } from '#feature-engine/feature-catalogue';
import type { ModelRef, ModelRunner } from '#model-service/tensors';

export interface FeatureResult {
  output: unknown;
  /** The model versions that served the call, in first-use order. */
  models: ModelRef[];
  units: number;
  unitType: string;
  /**
   * Milliseconds spent in each step, by node id; a list.map's sub-graph steps as
   * `<mapNode>/<subNode>`, summed over the items (they overlap: the map's own entry is its wall time).
   */
  steps: Record<string, number>;
}

export interface OpContext {
  runner: ModelRunner;
  /** Records a model that served this call. */
  useModel(ref: ModelRef): void;
  /** Runs a sub-graph (a list.map param) on one item, with the same runner and bookkeeping. */
  runGraph(graph: SubGraph, item: unknown): Promise<unknown>;
}

/** An op implementation: its spec (#feature-engine/feature-catalogue) plus a plain async function. */
export interface OpDefinition extends OpSpec {
  run(inputs: Record<string, unknown>, params: Record<string, unknown>, ctx: OpContext): Promise<unknown>;
}

export type OpRegistry = ReadonlyMap<string, OpDefinition>;
