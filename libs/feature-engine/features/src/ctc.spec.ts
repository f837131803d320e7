import { describe, expect, it } from '@jest/globals';
import { findShippedModel } from '#model-service/model-format';
import type { TensorData } from '#model-service/tensors';
import { ctcGreedyDecode, loadCtcCharset } from './index.js';

/** [1,T,C] tensor whose step t puts `p` on class picks[t] and the rest evenly elsewhere. */
function steps(picks: number[], classes: number, p = 0.9): TensorData {
  const data = new Float32Array(picks.length * classes);
  picks.forEach((c, t) => {
    for (let k = 0; k < classes; k++) data[t * classes + k] = k === c ? p : (1 - p) / (classes - 1);
  });
  return { dtype: 'float32', dims: [1, picks.length, classes], data };
}

describe('ctcGreedyDecode', () => {
  const charset = ['a', 'b', 'c', ' '];

  it('collapses repeats, drops blanks and keeps repeats split by a blank', () => {
    // class indices: blank 0, a 1, b 2, c 3, space 4; a a _ a b b _ _ c ' ' c -> "aabc c"
    const probs = steps([1, 1, 0, 1, 2, 2, 0, 0, 3, 4, 3], 5);
    const [res] = ctcGreedyDecode(probs, charset);
    expect(res?.text).toBe('aabc c');
    expect(res?.confidence).toBeCloseTo(0.9, 6);
  });

  it('averages the per-character max probability and handles logits with softmax', () => {
    const classes = 5;
    // logits: step 0 -> b strongly, step 1 -> blank, step 2 -> c weakly
    const logits = Float32Array.from([0, 0, 5, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    const [res] = ctcGreedyDecode({ dtype: 'float32', dims: [1, 3, classes], data: logits }, charset, { softmax: true });
    const pB = Math.exp(5) / (Math.exp(5) + 4);
    const pC = Math.exp(1) / (Math.exp(1) + 4);
    expect(res?.text).toBe('bc');
    expect(res?.confidence).toBeCloseTo((pB + pC) / 2, 6);
  });

  it('gives empty text with confidence 0 for all blanks, per batch row', () => {
    const both = steps([0, 0, 2, 0, 0, 0], 5);
    const res = ctcGreedyDecode({ ...both, dims: [2, 3, 5] }, charset);
    expect(res).toEqual([
      { text: 'b', confidence: expect.any(Number) },
      { text: '', confidence: 0 },
    ]);
  });

  it('refuses a tensor whose class count does not match the charset', () => {
    expect(() => ctcGreedyDecode(steps([1], 7), charset)).toThrow(/classes/);
  });

  it('loads the PaddleOCR dictionary with a trailing space class (6625 classes with the blank)', async () => {
    const path = findShippedModel('ppocr-rec')?.assets?.['dictionary'];
    if (!path) throw new Error('dictionary missing');
    const chars = await loadCtcCharset(path);
    expect(chars.length + 1).toBe(6625);
    expect(chars.at(-1)).toBe(' ');
  });
});
