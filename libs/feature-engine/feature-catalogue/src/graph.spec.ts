import { describe, expect, it } from '@jest/globals';
import { isProblemError, type ProblemError } from '#infra/errors';
import { createFeatureCatalogue, FeatureDefinitionError, OCR_LINE_V1, parseRef, validateFeatureDefinition, validateFeatureInput, OP_SPECS, MAX_IMAGE_BASE64_LENGTH, type FeatureDefinition } from './index.js';

function withNodes(nodes: FeatureDefinition['nodes'], outputNode = 'text'): FeatureDefinition {
  return { ...OCR_LINE_V1, nodes, outputNode };
}

function problemsOf(def: FeatureDefinition): string[] {
  try {
    validateFeatureDefinition(def, OP_SPECS);
  } catch (e) {
    if (e instanceof FeatureDefinitionError) return e.problems;
    throw e;
  }
  return [];
}

describe('feature graph validation', () => {
  it('orders the shipped definition by dependencies', () => {
    expect(validateFeatureDefinition(OCR_LINE_V1, OP_SPECS)).toEqual(['decode', 'tensor', 'recognise', 'text']);
  });

  it('rejects an unknown op', () => {
    const nodes = OCR_LINE_V1.nodes.map((n) => (n.id === 'tensor' ? { ...n, op: 'image.sharpen' } : n));
    expect(problemsOf(withNodes(nodes))).toContain('node tensor: unknown op "image.sharpen"');
  });

  it('rejects a reference to a missing node or input field', () => {
    const nodes = OCR_LINE_V1.nodes.map((n) =>
      n.id === 'recognise' ? { ...n, inputs: { x: 'tensr' } } : n.id === 'decode' ? { ...n, inputs: { image: '$input.picture' } } : n,
    );
    const problems = problemsOf(withNodes(nodes));
    expect(problems).toContain('node recognise: input x references missing node "tensr"');
    expect(problems).toContain('node decode: input image references "$input.picture", not a field of the input schema');
  });

  it('rejects a cycle', () => {
    const nodes = OCR_LINE_V1.nodes.map((n) => (n.id === 'tensor' ? { ...n, inputs: { image: 'text.image' } } : n));
    expect(problemsOf(withNodes(nodes))).toContain('cycle among nodes tensor, recognise, text');
  });

  it('rejects bad params, a missing op input, duplicate ids and a missing output node', () => {
    const nodes = [
      ...OCR_LINE_V1.nodes.map((n) => (n.id === 'tensor' ? { ...n, params: { height: -1, maxWidth: 320 } } : n.id === 'text' ? { ...n, inputs: {} } : n)),
      { id: 'decode', op: 'image.decode', inputs: { image: '$input.image' } },
    ];
    const problems = problemsOf(withNodes(nodes, 'nowhere'));
    expect(problems).toEqual(
      expect.arrayContaining([
        'node tensor (image.to_tensor): param height must be a positive integer',
        'node text (ctc.greedy_decode): missing input "probs"',
        'node id "decode" is used twice',
        'outputNode "nowhere" is not a node',
      ]),
    );
  });

  it('fails the catalogue load with the problems, and on a duplicate name@version', () => {
    const broken = withNodes([{ id: 'a', op: 'no.such.op', inputs: { x: '$input.image' } }], 'a');
    expect(() => createFeatureCatalogue([broken])).toThrow(FeatureDefinitionError);
    expect(() => createFeatureCatalogue([OCR_LINE_V1, OCR_LINE_V1])).toThrow(/defined twice/);
  });

  it('insists on additionalProperties: false for inputs', () => {
    const loose = { ...OCR_LINE_V1, input: { ...OCR_LINE_V1.input, additionalProperties: true } };
    expect(problemsOf(loose)).toContain('input schema must be an object with additionalProperties: false');
  });

  it('parses references', () => {
    expect(parseRef('$input.image')).toEqual({ kind: 'input', field: 'image' });
    expect(parseRef('decode')).toEqual({ kind: 'node', node: 'decode' });
    expect(parseRef('decode.width')).toEqual({ kind: 'node', node: 'decode', field: 'width' });
    expect(parseRef('$other')).toBeNull();
    expect(parseRef('$input.')).toBeNull();
  });
});

describe('validateFeatureInput', () => {
  function errorsOf(input: unknown): ProblemError {
    try {
      validateFeatureInput(OCR_LINE_V1, input);
    } catch (e) {
      if (isProblemError(e)) return e;
      throw e;
    }
    throw new Error('input passed validation');
  }

  it('accepts a valid input', () => {
    expect(() => validateFeatureInput(OCR_LINE_V1, { image: 'aGVsbG8=' })).not.toThrow();
  });

  it('points at a wrongly typed field', () => {
    const e = errorsOf({ image: 42 });
    expect(e.code).toBe('validation_failed');
    expect(e.status).toBe(422);
    expect(e.detail).toBe('The request body failed validation: /input/image.');
    expect(e.extensions['errors']).toEqual([{ path: '/input/image', message: 'must be a string' }]);
  });

  it('points at a missing field and at an unexpected one', () => {
    const e = errorsOf({ picture: 'aGVsbG8=' });
    expect(e.extensions['errors']).toEqual(
      expect.arrayContaining([
        { path: '/input/image', message: 'is required' },
        { path: '/input/picture', message: 'is not a known field' },
      ]),
    );
  });

  it('refuses an oversized image string and a non-object input', () => {
    const big = errorsOf({ image: 'A'.repeat(MAX_IMAGE_BASE64_LENGTH + 4) });
    expect(big.extensions['errors']).toEqual([{ path: '/input/image', message: `must be at most ${MAX_IMAGE_BASE64_LENGTH} characters long` }]);
    expect(errorsOf('hello').extensions['errors']).toEqual([{ path: '/input', message: 'must be an object' }]);
  });
});
