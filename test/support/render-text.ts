/**
 * Renders pages of known text with ImageMagick (`convert`, Debian's imagemagick package), for
 * the OCR tests and benches: black text on white, one line per entry, optionally turned 180°.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RenderedLine {
  text: string;
  /** Turned upside down in place (the box stays where the line was). */
  flipped?: boolean;
}

export interface PageSpec {
  lines: readonly (string | RenderedLine)[];
  /** A font name ImageMagick knows (`convert -list font`), e.g. DejaVu-Sans. */
  font?: string;
  pointSize?: number;
  width?: number;
  /** Left margin and top margin, pixels. */
  margin?: number;
  /** Line pitch as a multiple of the point size. */
  spacing?: number;
}

/** A PNG page with the lines, top to bottom, and each line's drawn text (for accuracy checks). */
export async function renderPage(spec: PageSpec): Promise<Buffer> {
  const size = spec.pointSize ?? 28;
  const margin = spec.margin ?? 30;
  const pitch = Math.round(size * (spec.spacing ?? 1.9));
  const lines = spec.lines.map((l) => (typeof l === 'string' ? { text: l } : l));
  const width = spec.width ?? Math.max(400, Math.round(Math.max(...lines.map((l) => l.text.length)) * size * 0.62) + 2 * margin);
  const height = margin * 2 + pitch * lines.length;
  const args = ['-size', `${width}x${height}`, 'xc:white', '-font', spec.font ?? 'DejaVu-Sans', '-pointsize', String(size), '-fill', 'black'];
  lines.forEach((l, i) => {
    const top = margin + i * pitch;
    if (!l.flipped) {
      args.push('-annotate', `+${margin}+${top + size}`, l.text);
    } else {
      // Draw the line into its own strip, turn it, and lay it back at the same place.
      args.push('(', '-size', `${width}x${pitch}`, 'xc:white', '-font', spec.font ?? 'DejaVu-Sans', '-pointsize', String(size), '-fill', 'black', '-annotate', `+${margin}+${size}`, l.text, '-rotate', '180', ')', '-geometry', `+0+${top}`, '-composite');
    }
  });
  args.push('-type', 'Grayscale', 'png:-');
  const { stdout } = await run('convert', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Levenshtein distance (characters). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** Character accuracy of a read against the truth: 1 - edit distance / truth length (at least 0). */
export function characterAccuracy(read: string, truth: string): number {
  if (truth.length === 0) return read.length === 0 ? 1 : 0;
  return Math.max(0, 1 - editDistance(read, truth) / truth.length);
}

/** A page of rows x cols tiny separate words, each in a cell of cellW x cellH pixels (a stress page for region limits). */
export async function renderGrid(rows: number, cols: number, cellW = 24, cellH = 19): Promise<Buffer> {
  const args = ['-size', `${cols * cellW}x${rows * cellH}`, 'xc:white', '-font', 'DejaVu-Sans', '-pointsize', String(Math.round(cellH / 2)), '-fill', 'black'];
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) args.push('-annotate', `+${c * cellW + 2}+${r * cellH + Math.round(cellH * 0.7)}`, String.fromCharCode(97 + ((r * cols + c) % 26)) + String((r + c) % 10));
  }
  args.push('-type', 'Grayscale', 'png:-');
  const { stdout } = await run('convert', args, { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}
