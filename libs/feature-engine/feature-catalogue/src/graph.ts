import type { ModelRef, ModelSignature } from '#model-service/tensors';
import { compileSchema } from './schema.js';
import { checkPortTypes, describeType, fieldType, inputFieldType, outputSchemaProblems } from './port-types.js';
import { checkUnitsRule } from './units.js';
import type { FeatureDefinition, FeatureNode, OpSpecs, OpTypes, PortType } from './types.js';

/** What the deployment serves, for the model checks and the model-dependent types (absent: unchecked). */
export interface ValidationContext {
  /** The model versions this deployment serves. */
  models?: readonly ModelRef[];
  /** A served model's signature (its inputs' and outputs' dtypes and shapes), when known. */
  signature?(ref: ModelRef): ModelSignature | undefined;
}

/** A feature definition that cannot be served (found at catalogue load). */
export class FeatureDefinitionError extends Error {
  constructor(
    readonly feature: string,
    readonly problems: string[],
    /** The document the feature came from, when it came from one. */
    readonly file?: string,
  ) {
    super(`${file ? `${file}: ` : ''}feature ${feature} is invalid: ${problems.join('; ')}`);
    this.name = 'FeatureDefinitionError';
  }
}

/** A parsed node input reference. */
export type InputRef = { kind: 'input'; field: string } | { kind: 'item'; field?: string } | { kind: 'node'; node: string; field?: string };

export function parseRef(ref: string): InputRef | null {
  if (ref === '$item') return { kind: 'item' };
  if (ref.startsWith('$item.')) {
    const field = ref.slice('$item.'.length);
    return field ? { kind: 'item', field } : null;
  }
  if (ref.startsWith('$input.')) {
    const field = ref.slice('$input.'.length);
    return field ? { kind: 'input', field } : null;
  }
  if (ref.startsWith('$')) return null;
  const dot = ref.indexOf('.');
  if (dot === -1) return ref ? { kind: 'node', node: ref } : null;
  const node = ref.slice(0, dot);
  const field = ref.slice(dot + 1);
  return node && field ? { kind: 'node', node, field } : null;
}

const NAME = /^[a-z][a-z0-9-]*$/;
const VERSION = /^[1-9][0-9]*$/;
const NODE_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** What the references of a graph may name besides its nodes. */
export interface GraphScope {
  /** Fields of the request input (`$input.<field>`); null: `$input` is not in scope. */
  inputFields: ReadonlySet<string> | null;
  /** Whether `$item` (a `list.map` item) is in scope. */
  item: boolean;
}

/**
 * Checks a graph's nodes against the op registry (ops, params, references, duplicate ids,
 * cycles) and returns its problems and its nodes in dependency order.
 */
export function checkGraph(nodes: readonly FeatureNode[], outputNode: string, scope: GraphScope, ops: OpSpecs): { order: string[]; problems: string[] } {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const node of nodes) {
    if (!NODE_ID.test(node.id)) problems.push(`node id "${node.id}" is not a valid identifier`);
    if (ids.has(node.id)) problems.push(`node id "${node.id}" is used twice`);
    ids.add(node.id);
  }

  const deps = new Map<string, Set<string>>();
  for (const node of nodes) {
    const nodeDeps = new Set<string>();
    deps.set(node.id, nodeDeps);
    const op = ops.get(node.op);
    if (!op) {
      problems.push(`node ${node.id}: unknown op "${node.op}"`);
    } else {
      for (const p of op.checkParams?.(node.params ?? {}, ops) ?? []) problems.push(`node ${node.id} (${node.op}): ${p}`);
      if (op.inputs === 'any') {
        if (Object.keys(node.inputs).length === 0) problems.push(`node ${node.id} (${node.op}): needs at least one input`);
      } else {
        for (const name of op.inputs) if (!(name in node.inputs)) problems.push(`node ${node.id} (${node.op}): missing input "${name}"`);
        for (const name of Object.keys(node.inputs)) if (!op.inputs.includes(name)) problems.push(`node ${node.id} (${node.op}): unexpected input "${name}"`);
      }
    }
    for (const [name, ref] of Object.entries(node.inputs)) {
      const parsed = parseRef(ref);
      if (!parsed) problems.push(`node ${node.id}: input ${name} has a malformed reference "${ref}"`);
      else if (parsed.kind === 'input') {
        if (!scope.inputFields) problems.push(`node ${node.id}: input ${name} references "${ref}", but a sub-graph sees only $item`);
        else if (!scope.inputFields.has(parsed.field)) problems.push(`node ${node.id}: input ${name} references "${ref}", not a field of the input schema`);
      } else if (parsed.kind === 'item') {
        if (!scope.item) problems.push(`node ${node.id}: input ${name} references "${ref}" outside a list.map sub-graph`);
      } else if (!ids.has(parsed.node)) problems.push(`node ${node.id}: input ${name} references missing node "${parsed.node}"`);
      else nodeDeps.add(parsed.node);
    }
  }
  if (!ids.has(outputNode)) problems.push(`outputNode "${outputNode}" is not a node`);

  // Kahn's algorithm: whatever cannot be ordered sits on or behind a cycle.
  const order: string[] = [];
  const remaining = new Map([...deps].map(([id, d]) => [id, new Set(d)]));
  let ready = [...remaining].filter(([, d]) => d.size === 0).map(([id]) => id);
  while (ready.length > 0) {
    const next: string[] = [];
    for (const id of ready) {
      order.push(id);
      remaining.delete(id);
      for (const [other, d] of remaining) if (d.delete(id) && d.size === 0) next.push(other);
    }
    ready = next;
  }
  if (remaining.size > 0) problems.push(`cycle among nodes ${[...remaining.keys()].join(', ')}`);
  return { order, problems };
}

/**
 * Checks a definition against the op registry and returns its nodes in dependency
 * order. Throws FeatureDefinitionError listing every problem (unknown op, bad params,
 * missing reference, duplicate id, cycle, invalid schema, ...).
 */
export function validateFeatureDefinition(def: FeatureDefinition, ops: OpSpecs, ctx: ValidationContext = {}): string[] {
  const label = `${def.name}@${def.version}`;
  const problems: string[] = [];
  if (!NAME.test(def.name)) problems.push(`name "${def.name}" must be lower-case kebab-case`);
  if (!VERSION.test(def.version)) problems.push(`version "${def.version}" must be a positive integer string`);
  if (typeof def.price?.unitType !== 'string' || !/^[a-z0-9_]{1,40}$/.test(def.price.unitType)) problems.push('price: unitType must be a short snake_case word (e.g. "image", "line")');
  for (const p of def.price ? checkUnitsRule(def.price.units, def.output) : []) problems.push(`price: ${p}`);

  for (const [which, schema] of [['input', def.input], ['output', def.output]] as const) {
    try {
      compileSchema(schema);
    } catch (e) {
      problems.push(`${which} schema does not compile: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (def.input['type'] !== 'object' || def.input['additionalProperties'] !== false) {
    problems.push('input schema must be an object with additionalProperties: false');
  }
  const inputFields = new Set(Object.keys((def.input['properties'] as Record<string, unknown> | undefined) ?? {}));
  const graph = checkGraph(def.nodes, def.outputNode, { inputFields, item: false }, ops);
  problems.push(...graph.problems);
  if (ctx.models) {
    for (const node of def.nodes) {
      for (const ref of ops.get(node.op)?.models?.(node.params ?? {}, ops) ?? []) {
        if (ctx.models.some((m) => m.name === ref.name && m.version === ref.version)) continue;
        const versions = ctx.models.filter((m) => m.name === ref.name).map((m) => m.version);
        problems.push(
          `node ${node.id} (${node.op}): model ${ref.name}@${ref.version} is not served here` +
            (versions.length > 0 ? ` (its versions: ${versions.join(', ')})` : ' (no model of that name)'),
        );
      }
    }
  }
  // Types along every edge, in dependency order (only once the graph itself is sound).
  if (problems.length === 0) problems.push(...typeProblems(def, ops, graph.order, ctx));
  if (problems.length > 0) throw new FeatureDefinitionError(label, problems);
  return graph.order;
}

function typeProblems(def: FeatureDefinition, ops: OpSpecs, order: readonly string[], ctx: ValidationContext): string[] {
  const problems: string[] = [];
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  const outputs = new Map<string, PortType>();
  const typeCtx = { signature: (ref: ModelRef) => ctx.signature?.(ref) };
  for (const id of order) {
    const node = byId.get(id);
    const op = node && ops.get(node.op);
    if (!node || !op) continue;
    let types: OpTypes | undefined;
    try {
      types = op.types?.(node.params ?? {}, typeCtx);
    } catch (e) {
      problems.push(`node ${node.id} (${node.op}): ${e instanceof Error ? e.message : String(e)}`);
      continue;
    }
    outputs.set(id, types?.output ?? { kind: 'any' });
    if (!types || types.inputs === 'any') continue;
    for (const name of Object.keys(types.inputs)) if (!(name in node.inputs)) problems.push(`node ${node.id} (${node.op}): missing input "${name}"`);
    for (const [name, ref] of Object.entries(node.inputs)) {
      const expected = types.inputs[name];
      if (!expected) {
        problems.push(`node ${node.id} (${node.op}): unexpected input "${name}" (it takes ${Object.keys(types.inputs).join(', ')})`);
        continue;
      }
      const parsed = parseRef(ref);
      if (!parsed) continue;
      let given: PortType | string;
      if (parsed.kind === 'input') given = inputFieldType(def.input, parsed.field);
      else if (parsed.kind === 'item') given = { kind: 'any' };
      else {
        const whole = outputs.get(parsed.node) ?? { kind: 'any' };
        given = parsed.field === undefined ? whole : fieldType(whole, parsed.field);
      }
      if (typeof given === 'string') {
        problems.push(`node ${node.id} (${node.op}): input ${name} (${ref}): ${given}`);
        continue;
      }
      const mismatch = checkPortTypes(given, expected);
      if (mismatch) problems.push(`node ${node.id} (${node.op}): input ${name} expects ${describeType(expected)} but ${ref} gives ${describeType(given)} (${mismatch})`);
    }
  }
  const out = outputs.get(def.outputNode);
  const outNode = byId.get(def.outputNode);
  if (out && outNode) for (const p of outputSchemaProblems(out, def.output)) problems.push(`node ${outNode.id} (${outNode.op}): output ${p}`);
  return problems;
}
