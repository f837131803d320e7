/**
 * Stacking per-item feeds into one batch along axis 0 (padding declared dynamic axes to
 * the batch's largest size) and splitting batch outputs back per item. Pure functions.
 */
import { elementCount, type TensorData } from '#model-service/tensors';

export type Feeds = Record<string, TensorData>;

export interface PaddingRule {
  /** Input name. */
  input: string;
  /** Axis (>= 1) whose size may differ between items; smaller items are padded at the end. */
  axis: number;
  /** Value the padding holds (default 0). */
  value?: number;
  /**
   * Outputs whose axis follows the padded input axis: each item's slice is trimmed to
   * ceil(outputSize * itemSize / batchSize) along it (e.g. CTC time steps of a text line).
   */
  trimOutputs?: { output: string; axis: number }[];
}

export interface StackedBatch {
  feeds: Feeds;
  /** Rows (axis-0 size) each item contributed, in order. */
  rows: number[];
  /** For each padding rule's input: each item's own size on the padded axis, and the batch size. */
  padded: { rule: PaddingRule; sizes: number[]; max: number }[];
}

/** The key under which items may share a batch: same inputs, dtypes and fixed dims. */
export function batchKey(feeds: Feeds, rules: readonly PaddingRule[] = []): string {
  const parts: string[] = [];
  for (const name of Object.keys(feeds).sort()) {
    const t = feeds[name]!;
    const padAxes = new Set(rules.filter((r) => r.input === name).map((r) => r.axis));
    const dims = t.dims.map((d, i) => (i === 0 || padAxes.has(i) ? '*' : String(d)));
    parts.push(`${name}:${t.dtype}[${dims.join(',')}]`);
  }
  return parts.join(';');
}

type TypedArray = TensorData['data'];

function allocate(like: TensorData, size: number): TypedArray {
  const C = like.data.constructor as new (n: number) => TypedArray;
  return new C(size);
}

function fill(arr: TypedArray, value: number): void {
  if (value === 0) return;
  if (arr instanceof BigInt64Array) arr.fill(BigInt(value));
  else arr.fill(value);
}

/** Copies `src` (dims srcDims) into `dst` (dims dstDims, same rank, each >=) at row offset `row0` on axis 0. */
function copyInto(src: TensorData, dst: TypedArray, dstDims: readonly number[], row0: number): void {
  const rank = dstDims.length;
  const srcDims = src.dims;
  // Strides of destination.
  const dstStride = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) dstStride[i] = dstStride[i + 1]! * dstDims[i + 1]!;
  const inner = srcDims[rank - 1] ?? 1;
  const outerCount = elementCount(srcDims.slice(0, Math.max(0, rank - 1)));
  const idx = new Array<number>(Math.max(0, rank - 1)).fill(0);
  for (let o = 0; o < outerCount; o++) {
    let dstOff = row0 * dstStride[0]!;
    for (let a = 0; a < rank - 1; a++) dstOff += idx[a]! * dstStride[a]!;
    const srcOff = o * inner;
    if (src.data instanceof BigInt64Array) (dst as BigInt64Array).set(src.data.subarray(srcOff, srcOff + inner), dstOff);
    else (dst as Float32Array).set((src.data as Float32Array).subarray(srcOff, srcOff + inner), dstOff);
    for (let a = rank - 2; a >= 0; a--) {
      idx[a] = idx[a]! + 1;
      if (idx[a]! < srcDims[a]!) break;
      idx[a] = 0;
    }
  }
}

/** Stacks items' feeds along axis 0. Items must share batchKey(feeds, rules). */
export function stackFeeds(items: readonly Feeds[], rules: readonly PaddingRule[] = []): StackedBatch {
  if (items.length === 0) throw new RangeError('no items to stack');
  const first = items[0]!;
  const key = batchKey(first, rules);
  for (const it of items) if (batchKey(it, rules) !== key) throw new RangeError(`items do not share a batch shape: ${batchKey(it, rules)} vs ${key}`);
  const rows = items.map((it) => it[Object.keys(it)[0]!]!.dims[0] ?? 1);
  const totalRows = rows.reduce((a, b) => a + b, 0);
  const feeds: Feeds = {};
  const padded: StackedBatch['padded'] = [];
  for (const name of Object.keys(first)) {
    const tensors = items.map((it) => it[name]!);
    const rank = tensors[0]!.dims.length;
    if (rank === 0) throw new RangeError(`input ${name} is a scalar and cannot be batched`);
    const dims = [...tensors[0]!.dims];
    dims[0] = totalRows;
    for (const rule of rules.filter((r) => r.input === name)) {
      if (rule.axis < 1 || rule.axis >= rank) throw new RangeError(`padding axis ${rule.axis} out of range for ${name}`);
      const sizes = tensors.map((t) => t.dims[rule.axis]!);
      const max = Math.max(...sizes);
      dims[rule.axis] = max;
      padded.push({ rule, sizes, max });
    }
    const data = allocate(tensors[0]!, elementCount(dims));
    const padValue = rules.find((r) => r.input === name)?.value ?? 0;
    fill(data, padValue);
    let row = 0;
    for (const t of tensors) {
      copyInto(t, data, dims, row);
      row += t.dims[0]!;
    }
    feeds[name] = { dtype: tensors[0]!.dtype, dims, data };
  }
  return { feeds, rows, padded };
}

/** Slices `t` rows [row0, row0+n) and, per trim, the leading `keep` entries of an axis. */
function slice(t: TensorData, row0: number, n: number, trims: { axis: number; keep: number }[]): TensorData {
  const dims = [...t.dims];
  dims[0] = n;
  for (const tr of trims) dims[tr.axis] = Math.min(tr.keep, t.dims[tr.axis]!);
  const out: TensorData = { dtype: t.dtype, dims, data: allocate(t, elementCount(dims)) };
  // Copy with index walk over the output's dims.
  const rank = dims.length;
  const srcStride = new Array<number>(rank).fill(1);
  for (let i = rank - 2; i >= 0; i--) srcStride[i] = srcStride[i + 1]! * t.dims[i + 1]!;
  const inner = dims[rank - 1] ?? 1;
  const outer = elementCount(dims.slice(0, Math.max(0, rank - 1)));
  const idx = new Array<number>(Math.max(0, rank - 1)).fill(0);
  let dstOff = 0;
  for (let o = 0; o < outer; o++) {
    let srcOff = row0 * srcStride[0]!;
    for (let a = 0; a < rank - 1; a++) srcOff += idx[a]! * srcStride[a]!;
    if (t.data instanceof BigInt64Array) (out.data as BigInt64Array).set(t.data.subarray(srcOff, srcOff + inner), dstOff);
    else (out.data as Float32Array).set((t.data as Float32Array).subarray(srcOff, srcOff + inner), dstOff);
    dstOff += inner;
    for (let a = rank - 2; a >= 0; a--) {
      idx[a] = idx[a]! + 1;
      if (idx[a]! < dims[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

/** Splits batch outputs (axis 0 = rows) back into one set of outputs per item. */
export function splitOutputs(outputs: Feeds, batch: Pick<StackedBatch, 'rows' | 'padded'>): Feeds[] {
  const total = batch.rows.reduce((a, b) => a + b, 0);
  for (const [name, t] of Object.entries(outputs)) {
    if (t.dims[0] !== total) throw new RangeError(`output ${name} has ${t.dims[0]} rows, expected ${total} (the model's outputs are not batched along axis 0)`);
  }
  const result: Feeds[] = [];
  let row = 0;
  batch.rows.forEach((n, i) => {
    const item: Feeds = {};
    for (const [name, t] of Object.entries(outputs)) {
      const trims: { axis: number; keep: number }[] = [];
      for (const p of batch.padded) {
        for (const tr of p.rule.trimOutputs ?? []) {
          if (tr.output !== name) continue;
          const full = t.dims[tr.axis];
          if (full === undefined) throw new RangeError(`trim axis ${tr.axis} out of range for output ${name}`);
          trims.push({ axis: tr.axis, keep: Math.ceil((full * p.sizes[i]!) / p.max) });
        }
      }
      item[name] = slice(t, row, n, trims);
    }
    result.push(item);
    row += n;
  });
  return result;
}
