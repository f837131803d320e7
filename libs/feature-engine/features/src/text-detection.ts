/**
 * DB (differentiable binarisation) postprocess: a text probability map -> text boxes in
 * reading order. Pure function over a Float32Array, bounded by the map's size: one pass of
 * connected components, then per component a hull, its minimum-area rectangle, a score and
 * the unclip.
 */
import { ProblemError } from '#infra/errors';
import { distance, growRect, minAreaRect, rectCorners, type Point, type Quad, type RotatedRect } from './geometry.js';

export interface DetectBoxesParams {
  /** Binarisation threshold of the probability map (PaddleOCR: 0.3). */
  threshold?: number;
  /** A box whose mean probability is below this is dropped (PaddleOCR: 0.6). */
  boxThreshold?: number;
  /** Boxes with a side shorter than this (map pixels) are dropped (PaddleOCR: 3). */
  minSize?: number;
  /** The box grows by area * unclipRatio / perimeter on each side (PaddleOCR: 1.5). */
  unclipRatio?: number;
  /** More boxes than this on one page is a 422 invalid_input. */
  maxRegions?: number;
}

export interface TextBox {
  /** Corners in page pixels: top-left, top-right, bottom-right, bottom-left. */
  box: Quad;
  /** Mean text probability inside the box, before unclip. */
  score: number;
}

export const DEFAULT_MAX_REGIONS = 300;

/**
 * Boxes of the text regions of a probability map of `mapW` x `mapH`, scaled to a page of
 * `pageW` x `pageH` (the map covers the whole page, resized), in reading order.
 */
export function detectTextBoxes(map: Float32Array, mapW: number, mapH: number, pageW: number, pageH: number, p: DetectBoxesParams = {}): TextBox[] {
  if (map.length < mapW * mapH) throw new RangeError(`probability map has ${map.length} values for ${mapW}x${mapH}`);
  const threshold = p.threshold ?? 0.3;
  const boxThreshold = p.boxThreshold ?? 0.6;
  const minSize = p.minSize ?? 3;
  const unclipRatio = p.unclipRatio ?? 1.5;
  const maxRegions = p.maxRegions ?? DEFAULT_MAX_REGIONS;
  const n = mapW * mapH;

  // Connected components of the binarised map (8-connectivity), with an explicit stack.
  const labels = new Int32Array(n);
  const stack = new Int32Array(n);
  const sx = pageW / mapW;
  const sy = pageH / mapH;
  const boxes: TextBox[] = [];
  let next = 0;
  for (let start = 0; start < n; start++) {
    if (labels[start] !== 0 || !(map[start]! > threshold)) continue;
    next++;
    labels[start] = next;
    let top = 0;
    stack[top++] = start;
    // Per row of the component: its leftmost and rightmost pixel (their hull is the component's).
    const rowMin = new Map<number, number>();
    const rowMax = new Map<number, number>();
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % mapW;
      const y = (i - x) / mapW;
      const lo = rowMin.get(y);
      if (lo === undefined || x < lo) rowMin.set(y, x);
      const hi = rowMax.get(y);
      if (hi === undefined || x > hi) rowMax.set(y, x);
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= mapH) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= mapW || (dx === 0 && dy === 0)) continue;
          const j = ny * mapW + nx;
          if (labels[j] === 0 && map[j]! > threshold) {
            labels[j] = next;
            stack[top++] = j;
          }
        }
      }
    }
    const points: Point[] = [];
    for (const [y, x] of rowMin) {
      points.push([x, y]);
      const hi = rowMax.get(y)!;
      if (hi !== x) points.push([hi, y]);
    }
    const rect = minAreaRect(points);
    if (Math.min(rect.width, rect.height) < minSize) continue;
    const score = meanInside(map, mapW, mapH, rect);
    if (score < boxThreshold) continue;
    const perimeter = 2 * (rect.width + rect.height);
    const grown = growRect(rect, (rect.width * rect.height * unclipRatio) / perimeter);
    if (Math.min(grown.width, grown.height) < minSize + 2) continue;
    const corners = rectCorners(grown).map(([x, y]): Point => [clamp(Math.round(x * sx), 0, pageW - 1), clamp(Math.round(y * sy), 0, pageH - 1)]) as Quad;
    // After clipping to the page, a box of 3 pixels or less across is noise (PaddleOCR's filter).
    if (distance(corners[0], corners[1]) <= 3 || distance(corners[0], corners[3]) <= 3) continue;
    boxes.push({ box: corners, score: round(score, 4) });
    if (boxes.length > maxRegions) {
      throw new ProblemError('invalid_input', `The page has more than ${maxRegions} text regions (the limit of this feature); split it into smaller images`);
    }
  }
  return readingOrder(boxes);
}

/** Mean probability of the map's pixels whose centre lies in the rectangle (PaddleOCR's box score). */
function meanInside(map: Float32Array, mapW: number, mapH: number, r: RotatedRect): number {
  const corners = rectCorners(r);
  const xs = corners.map((c) => c[0]);
  const ys = corners.map((c) => c[1]);
  const x0 = clamp(Math.floor(Math.min(...xs)), 0, mapW - 1);
  const x1 = clamp(Math.ceil(Math.max(...xs)), 0, mapW - 1);
  const y0 = clamp(Math.floor(Math.min(...ys)), 0, mapH - 1);
  const y1 = clamp(Math.ceil(Math.max(...ys)), 0, mapH - 1);
  const [ux, uy] = r.axis;
  const hw = r.width / 2 + 0.5;
  const hh = r.height / 2 + 0.5;
  let sum = 0;
  let count = 0;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - r.center[0];
      const dy = y - r.center[1];
      if (Math.abs(dx * ux + dy * uy) > hw || Math.abs(-dx * uy + dy * ux) > hh) continue;
      sum += map[y * mapW + x]!;
      count++;
    }
  }
  return count === 0 ? 0 : sum / count;
}

/**
 * Reading order: boxes grouped into lines (a box whose vertical centre lies within the
 * first box of the current line, by half its height, joins the line), lines top to bottom,
 * boxes left to right in a line.
 */
export function readingOrder<T extends { box: Quad }>(boxes: readonly T[]): T[] {
  const centreY = (b: T) => (b.box[0][1] + b.box[1][1] + b.box[2][1] + b.box[3][1]) / 4;
  const height = (b: T) => (distance(b.box[0], b.box[3]) + distance(b.box[1], b.box[2])) / 2;
  const left = (b: T) => Math.min(b.box[0][0], b.box[3][0]);
  const sorted = [...boxes].sort((a, b) => centreY(a) - centreY(b) || left(a) - left(b));
  const out: T[] = [];
  let line: T[] = [];
  let anchor: T | undefined;
  for (const b of sorted) {
    if (anchor && Math.abs(centreY(b) - centreY(anchor)) > height(anchor) / 2) {
      out.push(...line.sort((a, c) => left(a) - left(c)));
      line = [];
      anchor = undefined;
    }
    anchor ??= b;
    line.push(b);
  }
  out.push(...line.sort((a, c) => left(a) - left(c)));
  return out;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
