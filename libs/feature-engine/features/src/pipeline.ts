import { isProblemError, ProblemError } from '#infra/errors';
import type { ModelRef, ModelRunner } from '#model-service/tensors';
import { checkGraph, computeUnits, parseRef, validateFeatureDefinition, validateFeatureInput, validateFeatureOutput, type FeatureDefinition, type FeatureNode, type SubGraph } from '#feature-engine/feature-catalogue';
import { DEFAULT_OPS } from './ops.js';
import type { FeatureResult, OpContext, OpRegistry } from './types.js';

const orders = new WeakMap<FeatureDefinition, string[]>();
const subOrders = new WeakMap<SubGraph, string[]>();

function orderOf(def: FeatureDefinition, ops: OpRegistry): string[] {
  let order = orders.get(def);
  if (!order) {
    order = validateFeatureDefinition(def, ops);
    orders.set(def, order);
  }
  return order;
}

function subOrderOf(graph: SubGraph, ops: OpRegistry): string[] {
  let order = subOrders.get(graph);
  if (!order) {
    const checked = checkGraph(graph.nodes, graph.output, { inputFields: null, item: true }, ops);
    if (checked.problems.length > 0) throw new ProblemError('internal_error', `Invalid sub-graph: ${checked.problems.join('; ')}`);
    order = checked.order;
    subOrders.set(graph, order);
  }
  return order;
}

interface RunState {
  runner: ModelRunner;
  ops: OpRegistry;
  models: ModelRef[];
  steps: Map<string, number>;
}

/**
 * Runs nodes in dependency order (independent branches concurrently) and returns the
 * output node's value. `$input.<f>` reads the request, `$item` the list.map item.
 */
async function runGraph(nodes: readonly FeatureNode[], order: readonly string[], outputNode: string, scope: { input?: Record<string, unknown>; item?: unknown }, state: RunState, stepPrefix: string): Promise<unknown> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const results = new Map<string, Promise<unknown>>();
  const ctx: OpContext = {
    runner: state.runner,
    useModel(ref) {
      if (!state.models.some((m) => m.name === ref.name && m.version === ref.version)) state.models.push({ name: ref.name, version: ref.version });
    },
    // Steps of a sub-graph are recorded under `<this node>/<sub node>`; set per node below.
    runGraph: () => Promise.reject(new Error('runGraph outside a node')),
  };
  for (const id of order) {
    const node = byId.get(id);
    if (!node) continue;
    const op = state.ops.get(node.op);
    if (!op) throw new ProblemError('internal_error', `Unknown op ${node.op}`);
    const task = (async () => {
      const inputs: Record<string, unknown> = {};
      for (const [name, ref] of Object.entries(node.inputs)) {
        const parsed = parseRef(ref);
        if (!parsed) throw new ProblemError('internal_error', `Malformed reference ${ref}`);
        if (parsed.kind === 'input') inputs[name] = scope.input?.[parsed.field];
        else if (parsed.kind === 'item') inputs[name] = parsed.field === undefined ? scope.item : (scope.item as Record<string, unknown> | null | undefined)?.[parsed.field];
        else {
          const value = await results.get(parsed.node);
          inputs[name] = parsed.field === undefined ? value : (value as Record<string, unknown> | null | undefined)?.[parsed.field];
        }
      }
      const stepName = stepPrefix + node.id;
      const nodeCtx: OpContext = {
        ...ctx,
        runGraph: (graph, item) => runGraph(graph.nodes, subOrderOf(graph, state.ops), graph.output, { item }, state, `${stepName}/`),
      };
      const t0 = performance.now();
      try {
        return await op.run(inputs, node.params ?? {}, nodeCtx);
      } catch (e) {
        if (isProblemError(e)) throw e;
        throw new ProblemError('internal_error', `Node ${node.id} (${node.op}) failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      } finally {
        state.steps.set(stepName, (state.steps.get(stepName) ?? 0) + performance.now() - t0);
      }
    })();
    results.set(id, task);
  }
  const settled = await Promise.allSettled(results.values());
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  return results.get(outputNode);
}

/**
 * Runs a feature: validates the input, executes the nodes in dependency order
 * (independent branches concurrently), checks the output against its schema and
 * returns it with the models that served, each step's time and the units it counts
 * (computeUnits: per image, per line, per 1,000 characters or per second, as the document says).
 */
export async function runPipeline(def: FeatureDefinition, input: unknown, runner: ModelRunner, ops: OpRegistry = DEFAULT_OPS): Promise<FeatureResult> {
  const order = orderOf(def, ops);
  const t0 = performance.now();
  validateFeatureInput(def, input);
  const state: RunState = { runner, ops, models: [], steps: new Map() };
  const output = await runGraph(def.nodes, order, def.outputNode, { input: input as Record<string, unknown> }, state, '');
  validateFeatureOutput(def, output);
  const steps: Record<string, number> = {};
  for (const [name, ms] of state.steps) steps[name] = Math.round(ms * 100) / 100;
  const units = computeUnits(def.price, { output, computeMs: performance.now() - t0 });
  return { output, models: state.models, units, unitType: def.price.unitType, steps };
}
