import { describe, expect, it } from '@jest/globals';
import { float32Tensor } from '#model-service/tensors';
import { checkGraph, OP_SPECS, featureModels, OCR_V1, validateFeatureDefinition, FeatureDefinitionError, OCR_LINE_V1, type FeatureDefinition } from '#feature-engine/feature-catalogue';
import { applyHomography, assembleLines, convexHull, cropQuad, detectTextBoxes, homography, imageToTensor, mapConcurrently, minAreaRect, orderQuad, pageTensorSize, readingOrder, rotateImage, topK, type Quad, type RawImage } from './index.js';
import { DEFAULT_OPS } from './ops.js';
import { runPipeline } from './pipeline.js';

/** A w x h image whose pixel (x, y) is [x, y, 7]. */
function gradient(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set([x, y, 7], (y * w + x) * 3);
  return { width: w, height: h, channels: 3, data };
}

const px = (img: RawImage, x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3));

/** A probability map with rectangles of 0.9 on 0.05. */
function mapWith(w: number, h: number, rects: [number, number, number, number][]): Float32Array {
  const m = new Float32Array(w * h).fill(0.05);
  for (const [x0, y0, x1, y1] of rects) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) m[y * w + x] = 0.9;
  return m;
}

describe('geometry', () => {
  it('hull and minimum-area rectangle of an axis-aligned and of a rotated rectangle', () => {
    expect(convexHull([[0, 0], [2, 0], [1, 1], [2, 2], [0, 2]])).toEqual([[0, 0], [2, 0], [2, 2], [0, 2]]);
    const r = minAreaRect([[0, 0], [10, 0], [10, 4], [0, 4], [5, 2]]);
    expect(r.width * r.height).toBeCloseTo(40);
    // A 10 x 2 rectangle turned 30°.
    const c = Math.cos(Math.PI / 6);
    const s = Math.sin(Math.PI / 6);
    const pts: [number, number][] = [[0, 0], [10, 0], [10, 2], [0, 2]].map(([x, y]) => [x! * c - y! * s, x! * s + y! * c]);
    const rot = minAreaRect(pts);
    expect(Math.max(rot.width, rot.height)).toBeCloseTo(10);
    expect(Math.min(rot.width, rot.height)).toBeCloseTo(2);
  });

  it('orders corners tl, tr, br, bl whatever the input order', () => {
    expect(orderQuad([[10, 5], [0, 0], [0, 5], [10, 0]])).toEqual([[0, 0], [10, 0], [10, 5], [0, 5]]);
  });

  it('a homography maps the four points it was built from', () => {
    const from: Quad = [[0, 0], [100, 0], [100, 20], [0, 20]];
    const to: Quad = [[12, 30], [110, 45], [105, 66], [8, 50]];
    const h = homography(from, to);
    for (let i = 0; i < 4; i++) {
      const [x, y] = applyHomography(h, from[i]![0], from[i]![1]);
      expect(x).toBeCloseTo(to[i]![0], 6);
      expect(y).toBeCloseTo(to[i]![1], 6);
    }
    expect(() => homography(from, [[0, 0], [0, 0], [0, 0], [0, 0]])).toThrow(RangeError);
  });
});

describe('image.crop_regions / image.rotate', () => {
  it('an axis-aligned quad crops exactly those pixels', () => {
    const img = gradient(40, 30);
    const crop = cropQuad(img, [[5, 3], [25, 3], [25, 13], [5, 13]]);
    expect([crop.width, crop.height]).toEqual([20, 10]);
    expect(px(crop, 0, 0)).toEqual([5, 3, 7]);
    expect(px(crop, 19, 9)).toEqual([24, 12, 7]);
  });

  it('a rotated quad comes out upright (perspective warp)', () => {
    // The image holds a horizontal gradient; a quad turned 90° (tl at the bottom-left) reads it along y.
    const img = gradient(50, 50);
    const crop = cropQuad(img, [[10, 40], [10, 10], [30, 10], [30, 40]]);
    expect([crop.width, crop.height]).toEqual([30, 20]);
    // Along the crop's width, the source y decreases; along its height, the source x increases.
    expect(px(crop, 0, 0)).toEqual([10, 40, 7]);
    expect(px(crop, 29, 0)).toEqual([10, 11, 7]);
    expect(px(crop, 0, 19)).toEqual([29, 40, 7]);
  });

  it('rotates by 180 and by quarter turns', () => {
    const img = gradient(4, 3);
    const r180 = rotateImage(img, 180);
    expect(px(r180, 0, 0)).toEqual([3, 2, 7]);
    expect(px(r180, 3, 2)).toEqual([0, 0, 7]);
    expect(rotateImage(r180, 180)).toEqual(img);
    const r90 = rotateImage(img, 90);
    expect([r90.width, r90.height]).toEqual([3, 4]);
    // Clockwise: the top-left corner goes to the top-right.
    expect(px(r90, 2, 0)).toEqual([0, 0, 7]);
    expect(rotateImage(rotateImage(r90, 270), 0)).toEqual(img);
    expect(() => rotateImage(img, 45)).toThrow(RangeError);
  });
});

describe('image.to_tensor page mode', () => {
  it('limits the longest side and rounds both sides to multiples of 32', async () => {
    expect(pageTensorSize(2000, 1000, 960)).toEqual({ width: 960, height: 480 });
    expect(pageTensorSize(300, 50, 960)).toEqual({ width: 288, height: 64 });
    expect(pageTensorSize(10, 10, 960)).toEqual({ width: 32, height: 32 });
    const t = await imageToTensor(gradient(100, 70), { maxSide: 960, sizeMultiple: 32, channelOrder: 'bgr', mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 0.5] });
    expect(t.dims).toEqual([1, 3, 64, 96]);
    // Channel 2 of a BGR tensor is R; blue (7) in channel 0, std 0.25 doubles channel 1's range.
    const plane = 64 * 96;
    expect(t.data[0]).toBeCloseTo(7 / 255 / 0.5 - 1, 2);
    expect(t.data[plane]).toBeCloseTo(-2, 5);
  });

  it('line mode can crop a long line instead of squeezing it', async () => {
    const t = await imageToTensor(gradient(200, 10), { height: 48, fixedWidth: 192, overflow: 'crop' });
    expect(t.dims).toEqual([1, 3, 48, 192]);
    // The left 40 source columns fill the 192 tensor columns: the last column is about x = 39.
    expect(((Number(t.data[191]) * 0.5 + 0.5) * 255)).toBeCloseTo(39, -1);
  });
});

describe('text.detect_boxes (DB postprocess)', () => {
  it('finds text blocks, scales them to the page, unclips them and sorts them in reading order', () => {
    // 100x60 map of a 200x120 page; a right block and a left block on one line, one block below.
    const map = mapWith(100, 60, [[60, 10, 90, 16], [10, 10, 50, 16], [10, 35, 70, 42]]);
    const boxes = detectTextBoxes(map, 100, 60, 200, 120, { unclipRatio: 1.5 });
    expect(boxes).toHaveLength(3);
    const lefts = boxes.map((b) => b.box[0][0]);
    expect(lefts[0]).toBeLessThan(lefts[1]!);
    expect(boxes[2]!.box[0][1]).toBeGreaterThan(boxes[1]!.box[2][1] - 10);
    // Left block: map x 10..50, y 10..16 -> rect 40 x 6 grows by 40*6*1.5/92 = 3.9 per side, x2 on the page.
    const [tl, , br] = boxes[0]!.box;
    expect(tl[0]).toBeCloseTo(2 * (10 - 3.9), -1);
    expect(br[1]).toBeCloseTo(2 * (16 + 3.9), -1);
    expect(boxes[0]!.score).toBeCloseTo(0.9, 1);
  });

  it('drops blocks under the threshold, under the box score and under the minimum size', () => {
    const map = mapWith(60, 40, [[5, 5, 40, 6], [5, 20, 40, 30]]);
    // The second block is only 0.5 on average: a 0.6 box threshold drops it.
    for (let y = 20; y <= 30; y++) for (let x = 5; x <= 40; x++) map[y * 60 + x] = x % 2 === 0 ? 0.9 : 0.35;
    expect(detectTextBoxes(map, 60, 40, 60, 40, { minSize: 3, boxThreshold: 0.7 })).toEqual([]);
    expect(detectTextBoxes(map, 60, 40, 60, 40, { minSize: 3, boxThreshold: 0.5 })).toHaveLength(1);
    expect(detectTextBoxes(new Float32Array(60 * 40), 60, 40, 60, 40)).toEqual([]);
  });

  it('finds a rotated block as a rotated box', () => {
    const w = 120;
    const h = 120;
    const map = new Float32Array(w * h);
    // A 60 x 8 bar turned 30°.
    const c = Math.cos(Math.PI / 6);
    const s = Math.sin(Math.PI / 6);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const u = (x - 60) * c + (y - 60) * s;
      const v = -(x - 60) * s + (y - 60) * c;
      if (Math.abs(u) <= 30 && Math.abs(v) <= 4) map[y * w + x] = 0.95;
    }
    const [box] = detectTextBoxes(map, w, h, w, h, { unclipRatio: 0.01 });
    expect(box).toBeDefined();
    const [tl, tr] = box!.box;
    expect(Math.atan2(tr[1] - tl[1], tr[0] - tl[0])).toBeCloseTo(Math.PI / 6, 1);
  });

  it('refuses a page with more regions than maxRegions (422)', () => {
    const rects: [number, number, number, number][] = [];
    for (let i = 0; i < 40; i++) rects.push([(i % 8) * 12 + 1, Math.floor(i / 8) * 12 + 1, (i % 8) * 12 + 9, Math.floor(i / 8) * 12 + 6]);
    const map = mapWith(100, 64, rects);
    expect(detectTextBoxes(map, 100, 64, 100, 64, { maxRegions: 40 })).toHaveLength(40);
    expect(() => detectTextBoxes(map, 100, 64, 100, 64, { maxRegions: 39 })).toThrow(expect.objectContaining({ code: 'invalid_input', detail: expect.stringMatching(/more than 39 text regions/) }));
  });

  it('reading order: lines top to bottom, left to right within a line despite a slight skew', () => {
    const b = (x: number, y: number, w = 30, h = 10) => ({ box: [[x, y], [x + w, y], [x + w, y + h], [x, y + h]] as Quad });
    const right = b(100, 2);
    const left = b(10, 5);
    const below = b(5, 30);
    expect(readingOrder([below, right, left])).toEqual([left, right, below]);
  });
});

describe('classify.topk, text.join, ocr.lines, list.map', () => {
  it('top-k with labels, optionally through a softmax', () => {
    const t = float32Tensor([1, 3], [0.125, 0.5, 0.375]);
    expect(topK(t, ['a', 'b', 'c'], 2, false)).toEqual([{ label: 'b', score: 0.5 }, { label: 'c', score: 0.375 }]);
    const soft = topK(float32Tensor([1, 2], [0, Math.log(3)]), [0, 180], 2, true);
    expect(soft[0]!.label).toBe(180);
    expect(soft[0]!.score).toBeCloseTo(0.75);
  });

  it('classify.top1 falls back below its threshold', async () => {
    const top1 = DEFAULT_OPS.get('classify.top1')!;
    const ctx = { runner: { run: () => Promise.reject(new Error('no')) }, useModel: () => undefined, runGraph: () => Promise.resolve(null) };
    const params = { labels: [0, 180], key: 'angle', threshold: 0.9, fallback: 0 };
    expect(await top1.run({ probs: float32Tensor([1, 2], [0.25, 0.75]) }, params, ctx)).toEqual({ angle: 0, confidence: 0.75 });
    expect(await top1.run({ probs: float32Tensor([1, 2], [0.0625, 0.9375]) }, params, ctx)).toEqual({ angle: 180, confidence: 0.9375 });
  });

  it('ocr.lines drops empty and unconfident reads and joins the rest', () => {
    const box = (y: number): Quad => [[0, y], [10, y], [10, y + 5], [0, y + 5]];
    const out = assembleLines([{ box: box(0) }, { box: box(10) }, { box: box(20) }], [{ text: ' a ', confidence: 0.9, angle: 180 }, { text: '', confidence: 0.9 }, { text: 'c', confidence: 0.2 }], 0.5);
    expect(out).toEqual({ lines: [{ text: 'a', confidence: 0.9, box: box(0), angle: 180 }], text: 'a' });
  });

  it('mapConcurrently keeps item order and bounds the calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const out = await mapConcurrently([30, 10, 20, 5, 1], 2, async (v) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      return v * 2;
    });
    expect(out).toEqual([60, 20, 40, 10, 2]);
    expect(peak).toBe(2);
  });
});

describe('list.map sub-graphs', () => {
  const mapDef = (graph: unknown): FeatureDefinition => ({
    ...OCR_LINE_V1,
    name: 'map-test',
    output: { type: 'array' },
    nodes: [
      { id: 'decode', op: 'image.decode', inputs: { image: '$input.image' } },
      { id: 'twice', op: 'object.build', inputs: { a: 'decode', b: 'decode' } },
      { id: 'each', op: 'list.map', params: { graph }, inputs: { items: 'list' } },
      { id: 'list', op: 'ocr.lines', inputs: { boxes: 'decode', reads: 'twice' } },
    ],
    outputNode: 'each',
  });

  it('validates the sub-graph like the main graph (unknown op, bad reference, $input inside, cycle)', () => {
    const graph = {
      nodes: [
        { id: 'a', op: 'no.such', inputs: { x: '$item' } },
        { id: 'b', op: 'image.rotate', inputs: { image: '$input.image', angle: 'c' } },
        { id: 'c', op: 'object.build', inputs: { v: 'd' } },
        { id: 'd', op: 'object.build', inputs: { v: 'c' } },
      ],
      output: 'z',
    };
    let problems: string[] = [];
    try {
      validateFeatureDefinition(mapDef(graph), OP_SPECS);
    } catch (e) {
      if (e instanceof FeatureDefinitionError) problems = e.problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        'node each (list.map): graph: node a: unknown op "no.such"',
        'node each (list.map): graph: node b: input image references "$input.image", but a sub-graph sees only $item',
        'node each (list.map): graph: cycle among nodes b, c, d',
        'node each (list.map): graph: outputNode "z" is not a node',
      ]),
    );
    expect(checkGraph([{ id: 'x', op: 'object.build', inputs: { v: '$item' } }], 'x', { inputFields: new Set(), item: false }, OP_SPECS).problems).toEqual([
      'node x: input v references "$item" outside a list.map sub-graph',
    ]);
  });

  it('the ocr feature is valid, calls its three models (the sub-graph\'s included) and is plain JSON', () => {
    expect(validateFeatureDefinition(OCR_V1, OP_SPECS)).toContain('read');
    expect(featureModels(OCR_V1)).toEqual([
      { name: 'ppocr-det', version: '1' },
      { name: 'ppocr-cls', version: '1' },
      { name: 'ppocr-rec', version: '1' },
    ]);
    expect(JSON.parse(JSON.stringify(OCR_V1))).toEqual(OCR_V1);
  });

  it('runs the sub-graph per item, in order, and times its steps under the map node', async () => {
    const def: FeatureDefinition = {
      ...OCR_LINE_V1,
      name: 'map-run',
      output: { type: 'array' },
      nodes: [
        { id: 'decode', op: 'image.decode', inputs: { image: '$input.image' } },
        { id: 'crops', op: 'image.crop_regions', inputs: { image: 'decode', boxes: 'boxes' } },
        { id: 'boxes', op: 'object.build', inputs: { list: 'decode.regions' } },
        {
          id: 'each',
          op: 'list.map',
          params: { graph: { nodes: [{ id: 'turn', op: 'image.rotate', inputs: { image: '$item', angle: '$item.angle' } }, { id: 'size', op: 'object.build', inputs: { w: 'turn.width', h: 'turn.height' } }], output: 'size' } },
          inputs: { items: 'decode.items' },
        },
      ],
      outputNode: 'each',
    };
    const ops = new Map(DEFAULT_OPS);
    const items = [{ ...gradient(4, 2), angle: 90 }, { ...gradient(6, 3), angle: 0 }, { ...gradient(2, 5), angle: 270 }];
    ops.set('image.decode', { ...DEFAULT_OPS.get('image.decode')!, run: () => Promise.resolve({ items }) });
    ops.set('image.crop_regions', { ...DEFAULT_OPS.get('image.crop_regions')!, run: () => Promise.resolve([]) });
    const res = await runPipeline(def, { image: 'AAAA' }, { run: () => Promise.reject(new Error('no model')) }, ops);
    expect(res.output).toEqual([{ w: 2, h: 4 }, { w: 6, h: 3 }, { w: 5, h: 2 }]);
    expect(Object.keys(res.steps)).toEqual(expect.arrayContaining(['decode', 'each', 'each/turn', 'each/size']));
  });
});
