/**
 * Runs in its own process (see validator.ts): checks the file's structure, then loads it
 * in onnxruntime on CPU and prints one JSON line with the signature, or the refusal.
 * A hostile file can crash or exhaust only this process.
 */
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-node';
import { warmupFeeds } from '#model-service/runtime';
import type { ModelSignature } from '#model-service/tensors';
import { checkOnnxBytes } from './checks.js';

function specOf(meta: InferenceSession.ValueMetadata): ModelSignature['inputs'][number] {
  if (!meta.isTensor) return { name: meta.name, dtype: 'non-tensor', shape: [] };
  return { name: meta.name, dtype: meta.type, shape: meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : null)) };
}

async function main(path: string): Promise<unknown> {
  const bytes = await readFile(path);
  const check = checkOnnxBytes(bytes);
  if (!check.ok) return check;
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'basic' });
  } catch (e) {
    return { ok: false, reason: 'load_failed', message: `onnxruntime could not load the model: ${e instanceof Error ? e.message : String(e)}` };
  }
  const signature: ModelSignature = { inputs: session.inputMetadata.map(specOf), outputs: session.outputMetadata.map(specOf) };
  // The same zero-input warm-up a worker runs before it serves the model (dynamic
  // dimensions = 1): a model that cannot pass it would never become ready.
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(warmupFeeds('auto', signature))) feeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
    await session.run(feeds);
  } catch (e) {
    await session.release();
    return { ok: false, reason: 'warmup_failed', message: `The model failed its warm-up run (zeros, dynamic dimensions = 1): ${e instanceof Error ? e.message : String(e)}` };
  }
  await session.release();
  return { ok: true, signature };
}

const path = process.argv[2];
if (!path) {
  process.stdout.write(JSON.stringify({ ok: false, reason: 'validator_crashed', message: 'no file given' }) + '\n');
  process.exitCode = 2;
} else {
  main(path).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => {
      process.stdout.write(JSON.stringify({ ok: false, reason: 'validator_crashed', message: e instanceof Error ? e.message : String(e) }) + '\n');
      process.exitCode = 1;
    },
  );
}
