import { isProblemError, ProblemError } from '#infra/errors';
import type { ModelRef, ModelRunner } from '#model-service/tensors';
import { computeUnits, parseRef, validateFeatureDefinition, validateFeatureInput, validateFeatureOutput, type FeatureDefinition } from '#feature-engine/feature-catalogue';
import { DEFAULT_OPS } from './ops.js';
import type { FeatureResult, OpRegistry } from './types.js';

const orders = new WeakMap<FeatureDefinition, string[]>();

function orderOf(def: FeatureDefinition, ops: OpRegistry): string[] {
  let order = orders.get(def);
  if (!order) {
    order = validateFeatureDefinition(def, ops);
    orders.set(def, order);
  }
  return order;
}

/**
 * Runs a feature: validates the input, executes the nodes in dependency order
 * (independent branches concurrently), checks the output against its schema and
 * returns it with the models that served and the units it counts (computeUnits).
 */
export async function runPipeline(def: FeatureDefinition, input: unknown, runner: ModelRunner, ops: OpRegistry = DEFAULT_OPS): Promise<FeatureResult> {
  const order = orderOf(def, ops);
  const t0 = performance.now();
  validateFeatureInput(def, input);
  const request = input as Record<string, unknown>;
  const byId = new Map(def.nodes.map((n) => [n.id, n]));
  const models: ModelRef[] = [];
  const useModel = (ref: ModelRef): void => {
    if (!models.some((m) => m.name === ref.name && m.version === ref.version)) models.push({ name: ref.name, version: ref.version });
  };
  const results = new Map<string, Promise<unknown>>();

  for (const id of order) {
    const node = byId.get(id);
    if (!node) continue;
    const op = ops.get(node.op);
    if (!op) throw new ProblemError('internal_error', `Unknown op ${node.op}`);
    const task = (async () => {
      const inputs: Record<string, unknown> = {};
      for (const [name, ref] of Object.entries(node.inputs)) {
        const parsed = parseRef(ref);
        if (!parsed) throw new ProblemError('internal_error', `Malformed reference ${ref}`);
        if (parsed.kind === 'input') inputs[name] = request[parsed.field];
        else {
          const value = await results.get(parsed.node);
          inputs[name] = parsed.field === undefined ? value : (value as Record<string, unknown> | null | undefined)?.[parsed.field];
        }
      }
      try {
        return await op.run(inputs, node.params ?? {}, { runner, useModel });
      } catch (e) {
        if (isProblemError(e)) throw e;
        throw new ProblemError('internal_error', `Node ${node.id} (${node.op}) failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    })();
    results.set(id, task);
  }

  const settled = await Promise.allSettled(results.values());
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failure) throw failure.reason;
  const output = await results.get(def.outputNode);
  validateFeatureOutput(def, output);
  // Units from the actual call, as the document's price says (per image, per line, per 1,000 characters, per second).
  const units = computeUnits(def.price, { output, computeMs: performance.now() - t0 });
  return { output, models, units, unitType: def.price.unitType };
}
