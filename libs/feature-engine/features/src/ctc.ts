import { readFile } from 'node:fs/promises';
import type { TensorData } from '#model-service/tensors';

export interface DecodedText {
  text: string;
  /** Mean of the per-character maximum probabilities (0 when nothing was read). */
  confidence: number;
}

export interface CtcOptions {
  /** Class index of the CTC blank (PaddleOCR: 0). */
  blankIndex?: number;
  /** Apply a softmax over classes first (when the model emits logits). */
  softmax?: boolean;
}

/**
 * Greedy (best-path) CTC decoding of a [N, T, C] tensor. Class 0 is the blank;
 * class k >= 1 is `charset[k - 1]`. Repeated classes collapse unless a blank
 * separates them.
 */
export function ctcGreedyDecode(probs: TensorData, charset: readonly string[], opts: CtcOptions = {}): DecodedText[] {
  if (probs.dtype !== 'float32' || probs.dims.length !== 3) {
    throw new RangeError(`CTC decoding needs a float32 [N,T,C] tensor, got ${probs.dtype} [${probs.dims.join(',')}]`);
  }
  const [n = 0, steps = 0, classes = 0] = probs.dims;
  if (classes !== charset.length + 1) {
    throw new RangeError(`CTC tensor has ${classes} classes but the charset gives ${charset.length + 1} (with the blank)`);
  }
  const blank = opts.blankIndex ?? 0;
  const data = probs.data as Float32Array;
  const row = new Float64Array(classes);
  const results: DecodedText[] = [];
  for (let b = 0; b < n; b++) {
    let text = '';
    let confSum = 0;
    let confCount = 0;
    let prev = -1;
    for (let t = 0; t < steps; t++) {
      const base = (b * steps + t) * classes;
      for (let c = 0; c < classes; c++) row[c] = data[base + c] ?? 0;
      if (opts.softmax) softmaxInPlace(row);
      let best = 0;
      for (let c = 1; c < classes; c++) if ((row[c] ?? 0) > (row[best] ?? 0)) best = c;
      if (best !== blank && best !== prev) {
        text += charset[best - 1] ?? '';
        confSum += row[best] ?? 0;
        confCount++;
      }
      prev = best;
    }
    results.push({ text, confidence: confCount === 0 ? 0 : confSum / confCount });
  }
  return results;
}

function softmaxInPlace(row: Float64Array): void {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp((row[i] ?? 0) - max);
    row[i] = e;
    total += e;
  }
  for (let i = 0; i < row.length; i++) row[i] = (row[i] ?? 0) / total;
}

const charsets = new Map<string, Promise<string[]>>();

/**
 * The PaddleOCR charset from a dictionary file: one character per line, then a
 * space as the last class (PaddleOCR's `use_space_char`). Cached per path.
 */
export function loadCtcCharset(path: string, withSpace = true): Promise<string[]> {
  const key = `${path}\u0000${withSpace}`;
  let pending = charsets.get(key);
  if (!pending) {
    pending = readFile(path, 'utf8').then((text) => {
      const lines = text.split(/\r?\n/);
      if (lines.at(-1) === '') lines.pop();
      return withSpace ? [...lines, ' '] : lines;
    });
    void pending.catch(() => charsets.delete(key));
    charsets.set(key, pending);
  }
  return pending;
}
