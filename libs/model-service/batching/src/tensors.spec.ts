import { describe, expect, it } from '@jest/globals';
import { float32Tensor, type TensorData } from '#model-service/tensors';
import { batchKey, splitOutputs, stackFeeds } from './tensors.js';

const seq = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);

describe('stackFeeds / splitOutputs', () => {
  it('stacks equal-shaped items on axis 0 and splits them back unchanged', () => {
    const a = { x: float32Tensor([1, 2, 3], seq(6)) };
    const b = { x: float32Tensor([2, 2, 3], seq(12, 100)) };
    const batch = stackFeeds([a, b]);
    expect(batch.feeds.x!.dims).toEqual([3, 2, 3]);
    expect(Array.from(batch.feeds.x!.data as Float32Array)).toEqual([...seq(6), ...seq(12, 100)]);
    expect(batch.rows).toEqual([1, 2]);
    const [sa, sb] = splitOutputs(batch.feeds, batch);
    expect(sa!.x).toEqual(a.x);
    expect(sb!.x).toEqual(b.x);
  });

  it('pads a dynamic axis with the rule value and trims dependent outputs per item', () => {
    // Items of width 2 and 4 on axis 2 of [1, 1, W].
    const narrow = { img: float32Tensor([1, 1, 2], [1, 2]) };
    const wide = { img: float32Tensor([1, 1, 4], [5, 6, 7, 8]) };
    const rules = [{ input: 'img', axis: 2, value: -1, trimOutputs: [{ output: 'steps', axis: 1 }] }];
    expect(batchKey(narrow, rules)).toBe(batchKey(wide, rules));
    const batch = stackFeeds([narrow, wide], rules);
    expect(batch.feeds.img!.dims).toEqual([2, 1, 4]);
    expect(Array.from(batch.feeds.img!.data as Float32Array)).toEqual([1, 2, -1, -1, 5, 6, 7, 8]);
    // An output with half the time steps of the width: [2, 2, 1].
    const steps: TensorData = float32Tensor([2, 2, 1], [10, 11, 20, 21]);
    const [o1, o2] = splitOutputs({ steps }, batch);
    expect(o1!.steps!.dims).toEqual([1, 1, 1]);
    expect(Array.from(o1!.steps!.data as Float32Array)).toEqual([10]);
    expect(o2!.steps!.dims).toEqual([1, 2, 1]);
    expect(Array.from(o2!.steps!.data as Float32Array)).toEqual([20, 21]);
  });

  it('hands each item its own padded rows and trimmed outputs whichever comes first (wide before narrow, narrow before wide, three widths)', () => {
    // Items of [1, 1, 2, W] (two rows so the padding lands inside rows, not only at the end).
    const item = (w: number, base: number) => ({ img: float32Tensor([1, 1, 2, w], seq(2 * w, base)) });
    const widths = [5, 2, 3];
    const rules = [{ input: 'img', axis: 3, value: -1, trimOutputs: [{ output: 'steps', axis: 1 }] }];
    for (const order of [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0]]) {
      const items = order.map((k) => item(widths[k]!, 100 * (k + 1)));
      const batch = stackFeeds(items, rules);
      expect(batch.feeds.img!.dims).toEqual([3, 1, 2, 5]);
      // Each row of the batch is the item's values then -1 padding up to width 5.
      const data = Array.from(batch.feeds.img!.data as Float32Array);
      order.forEach((k, i) => {
        const w = widths[k]!;
        const base = 100 * (k + 1);
        const rowOf = (r: number) => data.slice((i * 2 + r) * 5, (i * 2 + r) * 5 + 5);
        expect(rowOf(0)).toEqual([...seq(w, base), ...Array<number>(5 - w).fill(-1)]);
        expect(rowOf(1)).toEqual([...seq(w, base + w), ...Array<number>(5 - w).fill(-1)]);
      });
      // A model output with one time step per input column ([3, 5, 1]); each item gets its own first W steps.
      const steps = float32Tensor([3, 5, 1], order.flatMap((k) => seq(5, 1000 * (k + 1))));
      const split = splitOutputs({ steps }, batch);
      order.forEach((k, i) => {
        expect(split[i]!.steps!.dims).toEqual([1, widths[k]!, 1]);
        expect(Array.from(split[i]!.steps!.data as Float32Array)).toEqual(seq(widths[k]!, 1000 * (k + 1)));
      });
    }
  });

  it('keeps int64 data intact', () => {
    const t = (v: bigint[]): TensorData => ({ dtype: 'int64', dims: [1, v.length], data: BigInt64Array.from(v) });
    const batch = stackFeeds([{ ids: t([1n, 2n]) }, { ids: t([3n, 4n]) }]);
    expect(Array.from(batch.feeds.ids!.data as BigInt64Array)).toEqual([1n, 2n, 3n, 4n]);
    expect(splitOutputs(batch.feeds, batch)[1]!.ids).toEqual(t([3n, 4n]));
  });

  it('refuses items of different shapes or outputs that are not batched', () => {
    expect(() => stackFeeds([{ x: float32Tensor([1, 2]) }, { x: float32Tensor([1, 3]) }])).toThrow(/share a batch shape/);
    const batch = stackFeeds([{ x: float32Tensor([1, 2]) }, { x: float32Tensor([1, 2]) }]);
    expect(() => splitOutputs({ y: float32Tensor([1, 2]) }, batch)).toThrow(/not batched/);
  });
});
