/**
 * Renders examples/hello.png: one line of dark text on white ("Hello Stratum"),
 * the sample image for the `ocr-line` feature, its tests and the docs.
 *
 * Run: `npm run build && node dist/scripts/make-sample-image.js [output.png] [text]`.
 * Needs a sans-serif font known to fontconfig (`fc-list`; on Debian
 * `apt-get install fonts-dejavu-core`). The output is committed, so tests do not
 * depend on the fonts of the machine that runs them.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

export const SAMPLE_TEXT = 'Hello Stratum';

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** PNG bytes of `text` in dark grey on white, one line, about 40 px tall glyphs. */
export async function renderTextLine(text: string, fontSize = 40): Promise<Buffer> {
  const height = Math.round(fontSize * 1.6);
  const width = Math.round(text.length * fontSize * 0.62 + fontSize);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>` +
    `<text x="${fontSize / 2}" y="${Math.round(height * 0.7)}" font-family="DejaVu Sans, sans-serif" font-size="${fontSize}" fill="#1a1a1a">${escapeXml(text)}</text>` +
    `</svg>`;
  // Trim the white margin, then give every side the same small one back.
  const trimmed = await sharp(Buffer.from(svg)).flatten({ background: '#ffffff' }).trim({ background: '#ffffff', threshold: 10 }).png().toBuffer();
  const pad = Math.round(fontSize * 0.3);
  return sharp(trimmed)
    .extend({ top: pad, bottom: pad, left: pad, right: pad, background: '#ffffff' })
    .removeAlpha()
    .png({ compressionLevel: 9 })
    .toBuffer();
}

async function main(): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const [outArg, textArg] = process.argv.slice(2);
  const out = outArg ?? join(root, 'examples', 'hello.png');
  const png = await renderTextLine(textArg ?? SAMPLE_TEXT);
  await mkdir(dirname(out), { recursive: true });
  await sharp(png).toFile(out);
  const meta = await sharp(out).metadata();
  console.log(`wrote ${out} (${meta.width}x${meta.height})`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
