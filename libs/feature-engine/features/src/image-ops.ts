/**
 * Pixel operations on packed RGB images: perspective crop of a quadrilateral (bilinear
 * sampling) and rotation by quarter turns. Pure functions, no sharp.
 */
import { applyHomography, distance, homography, type Point, type Quad } from './geometry.js';

/** Decoded image: packed 8-bit RGB rows. */
export interface RawImage {
  width: number;
  height: number;
  channels: 3;
  data: Uint8Array;
}

export function isRawImage(v: unknown): v is RawImage {
  const o = v as Partial<RawImage> | null;
  return !!o && typeof o.width === 'number' && typeof o.height === 'number' && o.channels === 3 && o.data instanceof Uint8Array;
}

/**
 * The quadrilateral `quad` (tl, tr, br, bl in image pixels) warped into an upright image as
 * wide as its longer horizontal side and as tall as its longer vertical side; coordinates
 * outside the image repeat the edge pixels.
 */
export function cropQuad(img: RawImage, quad: Quad): RawImage {
  const [tl, tr, br, bl] = quad;
  const w = Math.max(1, Math.round(Math.max(distance(tl, tr), distance(bl, br))));
  const h = Math.max(1, Math.round(Math.max(distance(tl, bl), distance(tr, br))));
  const dst: Point[] = [
    [0, 0],
    [w, 0],
    [w, h],
    [0, h],
  ];
  // Output pixel -> source point (inverse mapping, so every output pixel is sampled once).
  const H = homography(dst, quad);
  const out = new Uint8Array(w * h * 3);
  const maxX = img.width - 1;
  const maxY = img.height - 1;
  const src = img.data;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const [fx, fy] = applyHomography(H, x, y);
      const cx = fx < 0 ? 0 : fx > maxX ? maxX : fx;
      const cy = fy < 0 ? 0 : fy > maxY ? maxY : fy;
      const x0 = Math.floor(cx);
      const y0 = Math.floor(cy);
      const x1 = x0 < maxX ? x0 + 1 : x0;
      const y1 = y0 < maxY ? y0 + 1 : y0;
      const ax = cx - x0;
      const ay = cy - y0;
      const o = (y * w + x) * 3;
      const i00 = (y0 * img.width + x0) * 3;
      const i01 = (y0 * img.width + x1) * 3;
      const i10 = (y1 * img.width + x0) * 3;
      const i11 = (y1 * img.width + x1) * 3;
      for (let c = 0; c < 3; c++) {
        const top = src[i00 + c]! + (src[i01 + c]! - src[i00 + c]!) * ax;
        const bottom = src[i10 + c]! + (src[i11 + c]! - src[i10 + c]!) * ax;
        out[o + c] = Math.round(top + (bottom - top) * ay);
      }
    }
  }
  return { width: w, height: h, channels: 3, data: out };
}

/** The image turned clockwise by `angle` degrees (0, 90, 180 or 270). */
export function rotateImage(img: RawImage, angle: number): RawImage {
  const a = ((angle % 360) + 360) % 360;
  if (a === 0) return img;
  const { width: w, height: h, data } = img;
  if (a === 180) {
    const out = new Uint8Array(data.length);
    const n = w * h;
    for (let i = 0; i < n; i++) {
      const s = i * 3;
      const d = (n - 1 - i) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
    return { width: w, height: h, channels: 3, data: out };
  }
  if (a !== 90 && a !== 270) throw new RangeError(`rotation by ${angle} degrees is not a quarter turn`);
  // Output is h wide and w tall.
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // Clockwise: (x, y) -> (h - 1 - y, x); counter-clockwise: (x, y) -> (y, w - 1 - x).
      const nx = a === 90 ? h - 1 - y : y;
      const ny = a === 90 ? x : w - 1 - x;
      const s = (y * w + x) * 3;
      const d = (ny * h + nx) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: h, height: w, channels: 3, data: out };
}
