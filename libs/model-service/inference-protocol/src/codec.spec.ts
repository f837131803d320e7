import { describe, expect, it } from '@jest/globals';
import { ProblemError } from '#infra/errors';
import type { ModelSignature } from '#model-service/tensors';
import { encodeOutputs, modelMetadata, parseInferRequest, v2Datatype } from './codec.js';

const signature: ModelSignature = {
  inputs: [
    { name: 'x', dtype: 'float32', shape: ['batch', 4] },
    { name: 'mask', dtype: 'bool', shape: [null, 4] },
  ],
  outputs: [
    { name: 'probs', dtype: 'float32', shape: ['batch', 3] },
    { name: 'label', dtype: 'int64', shape: ['batch'] },
  ],
};
const limits = { maxElements: 64 };
interface Body {
  id: string;
  inputs: { name: string; datatype: string; shape: number[]; data: unknown }[];
  outputs: { name: string }[];
}
const good = (): Body => ({
  id: 'req-1',
  inputs: [
    { name: 'x', datatype: 'FP32', shape: [2, 4], data: [[1, 2, 3, 4], [5, 6, 7, 8]] },
    { name: 'mask', datatype: 'BOOL', shape: [2, 4], data: [true, false, true, false, true, true, false, false] },
  ],
  outputs: [{ name: 'label' }],
});

function problemOf(fn: () => unknown): ProblemError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ProblemError) return e;
    throw e;
  }
  throw new Error('expected a ProblemError');
}

describe('parseInferRequest', () => {
  it('turns nested and flat data into feeds of the model dtypes', () => {
    const r = parseInferRequest(good(), signature, limits);
    expect(r.id).toBe('req-1');
    expect(r.outputs).toEqual(['label']);
    expect(r.feeds.x!.dims).toEqual([2, 4]);
    expect(Array.from(r.feeds.x!.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.feeds.mask!.dtype).toBe('bool');
    expect(Array.from(r.feeds.mask!.data as Uint8Array)).toEqual([1, 0, 1, 0, 1, 1, 0, 0]);
  });

  const cases: [string, (b: ReturnType<typeof good>) => unknown, RegExp, number][] = [
    ['an unknown input name', (b) => ((b.inputs[0]!.name = 'y'), b), /no input "y"/, 422],
    ['a wrong datatype', (b) => ((b.inputs[0]!.datatype = 'INT64'), b), /datatype FP32/, 422],
    ['a wrong rank', (b) => ((b.inputs[0]!.shape = [8]), b), /rank 2/, 422],
    ['a fixed dimension mismatch', (b) => ((b.inputs[0]!.shape = [4, 2]), b), /needs 4 on axis 1/, 422],
    ['too few values for the shape', (b) => ((b.inputs[0]!.data = [1, 2, 3]), b), /holds 8 elements, data has 3/, 422],
    ['an infinite value', (b) => ((b.inputs[0]!.data = [1, 2, 3, 4, 5, 6, 7, Infinity]), b), /finite FP32/, 422],
    ['a value beyond FP32', (b) => ((b.inputs[0]!.data = [1, 2, 3, 4, 5, 6, 7, 1e300]), b), /finite FP32/, 422],
    ['a missing input', (b) => ((b.inputs = [b.inputs[0]!]), b), /Missing input\(s\): mask/, 422],
    ['an unknown output', (b) => ((b.outputs = [{ name: 'nope' }]), b), /no output "nope"/, 422],
    ['an unknown top-level field', (b) => ({ ...b, extra: 1 }), /Unknown request field/, 422],
    ['a body that is not an object', () => [1, 2], /JSON object/, 400],
    ['more elements than the limit', (b) => ((b.inputs[0]!.shape = [20, 4]), b), /more than 64 elements/, 413],
  ];
  it.each(cases)('refuses %s with a problem that carries the v2 "error" member', (_, mutate, message, status) => {
    const p = problemOf(() => parseInferRequest(mutate(good()), signature, limits));
    expect(p.status).toBe(status);
    expect(p.detail).toMatch(message);
    expect(p.extensions.error).toBe(p.detail);
  });
});

describe('encoding', () => {
  it('encodes outputs as flat row-major v2 tensors, only those asked for', () => {
    const out = encodeOutputs(
      {
        probs: { dtype: 'float32', dims: [1, 3], data: Float32Array.from([0.25, 0.5, 0.25]) },
        label: { dtype: 'int64', dims: [1], data: BigInt64Array.from([1n]) },
      },
      ['label'],
    );
    expect(out).toEqual([{ name: 'label', datatype: 'INT64', shape: [1], data: [1] }]);
  });

  it('describes a model with -1 for variable dimensions', () => {
    const m = modelMetadata('tiny', ['1', '2'], signature);
    expect(m.inputs[0]).toEqual({ name: 'x', datatype: 'FP32', shape: [-1, 4] });
    expect(m.outputs[1]).toEqual({ name: 'label', datatype: 'INT64', shape: [-1] });
    expect(v2Datatype({ dtype: 'tensor(double)' })).toBe('FP64');
    expect(v2Datatype({ dtype: 'tensor(int64)' })).toBe('INT64');
  });
});
