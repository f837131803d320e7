import type { ModelRef } from '#model-service/tensors';

/** A JSON Schema (draft 2020-12, the subset ajv implements) as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

/** One step of a feature pipeline. */
export interface FeatureNode {
  id: string;
  /** Name of an op in the registry (e.g. `image.decode`). */
  op: string;
  /** Op parameters, JSON-serialisable. */
  params?: Record<string, unknown>;
  /**
   * The op's named inputs. A value is `$input.<field>` (a field of the request input),
   * `<nodeId>` (a node's whole output) or `<nodeId>.<field>` (one field of it); inside the
   * sub-graph of a `list.map` node, also `$item` (the list item) or `$item.<field>`.
   */
  inputs: Record<string, string>;
}

/** A graph run per item of a list (the `graph` param of `list.map`): data, validated like a feature's graph. */
export interface SubGraph {
  nodes: FeatureNode[];
  /** The node whose output is the item's result. */
  output: string;
}

/** A product feature: a versioned pipeline declared as data. */
export interface FeatureDefinition {
  name: string;
  /** Integer version as a string ("1"); a breaking change of input, output or price is a new version. */
  version: string;
  description: string;
  input: JsonSchema;
  output: JsonSchema;
  /** What one successful call bills. */
  price: { units: number; unitType: string };
  nodes: FeatureNode[];
  outputNode: string;
}

/**
 * What the graph checker and the catalogue know of an op: its inputs, its param checks and the
 * models it calls. The implementation (`run`) lives in #feature-engine/features, so the
 * catalogue never loads image decoding or a model runtime.
 */
export interface OpSpec {
  description: string;
  /** Input names the op requires; `'any'` for ops whose inputs are free-form (model.run). */
  inputs: readonly string[] | 'any';
  /**
   * Returns problems with the params (empty when fine); run at catalogue load. `ops` is the
   * registry the graph is checked against (an op holding a sub-graph checks it with them).
   */
  checkParams?(params: Record<string, unknown>, ops: OpSpecs): string[];
  /** Models the node calls (a sub-graph's included), for routing a feature to its worker pool. */
  models?(params: Record<string, unknown>, ops: OpSpecs): ModelRef[];
}

export type OpSpecs = ReadonlyMap<string, OpSpec>;
