// Uploaded models are received streamed and validated in an isolated process: hostile
// files are refused with the reason, and the test process (standing in for the gateway)
// survives every one of them. Needs `npm run build` (the validator child runs from dist/).
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import onnxProto from 'onnx-proto';
import { ProblemError } from '#infra/errors';
import { artifactPath, receiveUpload, storeArtifact, validateModelFile } from '#model-service/model-uploads';
import { buildTinyClassifier, floatValueInfo, TINY_CLASSIFIER_SPEC } from '#tools/model-builders';

const { onnx } = onnxProto;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stratum-uploads-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A one-node model: y = Op(x), with the given op type and input dims. */
function oneNodeModel(opType: string, dims: (number | string)[]): Uint8Array {
  const vi = (name: string) => floatValueInfo(name, dims);
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: [{ opType, input: ['x'], output: ['y'] }], input: [vi('x')], output: [vi('y')] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Loads fine, but `Reshape` of a 1-element warm-up input to [5] fails at run time. */
function failsAtRunModel(): Uint8Array {
  const vi = floatValueInfo;
  const shape = { name: 'target', dataType: onnx.TensorProto.DataType.INT64, dims: [1], int64Data: [5] };
  const model: onnxProto.onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'g', node: [{ opType: 'Reshape', input: ['x', 'target'], output: ['y'] }], initializer: [shape], input: [vi('x', ['n'])], output: [vi('y', [5])] },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

async function fileWith(bytes: Uint8Array, name: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, bytes);
  return p;
}

async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string; reason: unknown; detail: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ProblemError) return { status: e.status, code: e.code, reason: e.extensions.reason, detail: e.detail };
    throw e;
  }
  throw new Error('expected a refusal');
}

function chunks(bytes: Uint8Array, size = 7): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) parts.push(Buffer.from(bytes.subarray(i, i + size)));
  return Readable.from(parts);
}

describe('receiving an upload', () => {
  it('streams to content-addressed storage with the sha256 and size of the bytes', async () => {
    const bytes = buildTinyClassifier(TINY_CLASSIFIER_SPEC);
    const file = await receiveUpload(chunks(bytes), { storageDir: dir, maxBytes: 1 << 20 });
    expect(file.sizeBytes).toBe(bytes.length);
    const { createHash } = await import('node:crypto');
    expect(file.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    const uri = await storeArtifact(file, dir);
    expect(uri).toBe(`storage:sha256/${file.sha256}.onnx`);
    expect(artifactPath(uri, dir)).toBe(join(dir, 'sha256', `${file.sha256}.onnx`));
  });

  it('stops reading past the size limit and leaves no partial file', async () => {
    const bytes = buildTinyClassifier(TINY_CLASSIFIER_SPEC);
    const r = await refusal(receiveUpload(chunks(bytes), { storageDir: dir, maxBytes: 20 }));
    expect(r.status).toBe(413);
    expect(r.code).toBe('payload_too_large');
    expect((await readdir(join(dir, 'incoming'))).filter((f) => f.endsWith('.part'))).toEqual([]);
  });

  it('refuses a file that does not start like an ONNX model at the first chunk', async () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);
    const r = await refusal(receiveUpload(chunks(png), { storageDir: dir, maxBytes: 1 << 20 }));
    expect(r).toMatchObject({ status: 422, code: 'model_invalid', reason: 'wrong_magic' });
  });
});

describe('validating in an isolated process', () => {
  const limits = { timeoutMs: 20_000, maxRssBytes: 1024 * 1024 * 1024 };

  it('reads the signature of a good model', async () => {
    const p = await fileWith(buildTinyClassifier(TINY_CLASSIFIER_SPEC), 'good.onnx');
    const sig = await validateModelFile(p, limits);
    expect(sig.inputs).toEqual([{ name: 'x', dtype: 'float32', shape: ['batch', TINY_CLASSIFIER_SPEC.inputSize] }]);
    expect(sig.outputs).toEqual([{ name: 'probs', dtype: 'float32', shape: ['batch', TINY_CLASSIFIER_SPEC.classes] }]);
  });

  it('refuses a truncated model as malformed', async () => {
    const bytes = buildTinyClassifier(TINY_CLASSIFIER_SPEC);
    const p = await fileWith(bytes.subarray(0, Math.floor(bytes.length / 2)), 'truncated.onnx');
    expect(await refusal(validateModelFile(p, limits))).toMatchObject({ status: 422, reason: 'malformed' });
  });

  it('refuses absurd declared shapes before loading', async () => {
    const p = await fileWith(oneNodeModel('Relu', [1 << 30, 1 << 30]), 'absurd.onnx');
    expect(await refusal(validateModelFile(p, limits))).toMatchObject({ reason: 'absurd_shape' });
  });

  it('refuses a model whose operator onnxruntime cannot load, naming it', async () => {
    const p = await fileWith(oneNodeModel('NoSuchOperator', ['n', 3]), 'unknown-op.onnx');
    const r = await refusal(validateModelFile(p, limits));
    expect(r.reason).toBe('load_failed');
    expect(r.detail).toMatch(/NoSuchOperator/);
  });

  it('refuses a model that loads but fails the warm-up run a worker would do', async () => {
    const p = await fileWith(failsAtRunModel(), 'fails-at-run.onnx');
    const r = await refusal(validateModelFile(p, limits));
    expect(r.reason).toBe('warmup_failed');
    expect(r.detail).toMatch(/warm-up/);
  });

  it('kills the validator past its memory limit', async () => {
    const p = await fileWith(buildTinyClassifier(TINY_CLASSIFIER_SPEC), 'mem.onnx');
    // No Node process fits in 8 MiB: the poller must catch it and kill it.
    expect(await refusal(validateModelFile(p, { timeoutMs: 20_000, maxRssBytes: 8 * 1024 * 1024 }))).toMatchObject({ reason: 'memory_limit' });
  });

  it('kills the validator past its deadline', async () => {
    const p = await fileWith(buildTinyClassifier(TINY_CLASSIFIER_SPEC), 'slow.onnx');
    expect(await refusal(validateModelFile(p, { timeoutMs: 1, maxRssBytes: 1024 * 1024 * 1024 }))).toMatchObject({ reason: 'timeout' });
  });
});
