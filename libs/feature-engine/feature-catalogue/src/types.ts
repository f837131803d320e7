import type { ModelRef, ModelSignature } from '#model-service/tensors';

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
  /** What one successful call bills: its unit type and how many units a call counts (see UnitsRule). */
  price: FeaturePrice;
  nodes: FeatureNode[];
  outputNode: string;
  /**
   * Marks the version callers get when they name no version. At most one version of a feature
   * carries it; without it the highest version is the default.
   */
  default?: boolean;
}

/**
 * How the units of one call are counted (computed from the actual call by computeUnits):
 * - a number: that many units per successful call ("per image");
 * - `{ count: "/lines" }`: the number of items of the output array at that JSON Pointer ("per detected line");
 * - `{ characters: "/lines/*\/text", per: 1000 }`: characters of the output string(s) at the pointer
 *   (`*` walks every item of an array), per started `per` characters ("per 1,000 characters");
 * - `{ seconds: "compute" }`: started seconds of the pipeline's compute time ("per second of compute").
 * `min` (default 0) is the least a successful call counts.
 */
export type UnitsRule = number | { count: string; min?: number } | { characters: string; per?: number; min?: number } | { seconds: 'compute'; min?: number };

export interface FeaturePrice {
  unitType: string;
  units: UnitsRule;
}

/**
 * The type of a value flowing along an edge, for the graph's type and shape checks:
 * an image (decoded pixels), a tensor (dtype and dims where known: a number is a fixed dimension,
 * null a free one), a JSON value described by a JSON Schema, or anything (unchecked).
 */
export type PortType =
  | { kind: 'any' }
  | { kind: 'image' }
  | { kind: 'tensor'; dtype?: string; dims?: (number | null)[] }
  | { kind: 'json'; schema: JsonSchema };

/** What an op's types may depend on besides its params: the signatures of the models the deployment serves. */
export interface TypeContext {
  signature(ref: ModelRef): ModelSignature | undefined;
}

/** An op's declared input and output types (inputs: by name; 'any' for free-form inputs). */
export interface OpTypes {
  inputs: Record<string, PortType> | 'any';
  output: PortType;
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
  /**
   * The op's input and output types for these params (checked along every edge at load). An op
   * without it is unchecked (its inputs accept anything, its output is `any`).
   */
  types?(params: Record<string, unknown>, ctx: TypeContext): OpTypes;
}

export type OpSpecs = ReadonlyMap<string, OpSpec>;
