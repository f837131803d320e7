/**
 * Character accuracy of the `ocr` feature on pages rendered here with ImageMagick: several
 * fonts, sizes and line counts, some lines turned 180°. Runs the feature in this process on
 * the shipped models (no platform), and prints the accuracy per page and overall:
 *   npm run bench:ocr-accuracy
 * Accuracy = 1 - (edit distance between the page text read and the text drawn) / drawn length,
 * summed over pages (lines compared in reading order, joined with newlines).
 */
import { findShippedModel } from '#model-service/model-format';
import { OnnxModelHost } from '#model-service/runtime';
import { OCR_V1, type FeatureDefinition } from '#feature-engine/feature-catalogue';
import { runPipeline } from '#feature-engine/features';
import { editDistance, renderPage, type RenderedLine } from '../test/support/render-text.js';

const SENTENCES = [
  'Hello Stratum',
  'The quick brown fox jumps over the lazy dog',
  'Invoice 2024-117 total 1,234.56 EUR',
  'Meeting moved to Thursday at 10:30',
  'Pack my box with five dozen liquor jugs',
  'Order #58213 shipped via express',
  'Call 555-0142 before noon',
  'Temperature reached 38 degrees today',
  'Please sign and return both copies',
  'Version 3.2.1 fixes the login bug',
  'Sphinx of black quartz, judge my vow',
  'Account balance: 9,870.00 USD',
];

export const FONTS = ['DejaVu-Sans', 'DejaVu-Serif', 'Liberation-Sans', 'Liberation-Serif', 'Nimbus-Mono-PS'];

export interface AccuracyPage {
  name: string;
  lines: RenderedLine[];
  font: string;
  pointSize: number;
}

/** The rendered set: every font at two sizes, 1 to 6 lines, every third page with a line turned 180°. */
export function accuracySet(): AccuracyPage[] {
  const pages: AccuracyPage[] = [];
  let k = 0;
  for (const font of FONTS) {
    for (const pointSize of [20, 32]) {
      const count = 1 + (k % 6);
      const lines = Array.from({ length: count }, (_, i): RenderedLine => ({ text: SENTENCES[(k * 5 + i) % SENTENCES.length]!, flipped: k % 3 === 2 && i === count - 1 }));
      pages.push({ name: `${font} ${pointSize}pt ${count} line(s)${lines.some((l) => l.flipped) ? ' (one turned 180°)' : ''}`, lines, font, pointSize });
      k++;
    }
  }
  return pages;
}

async function main(): Promise<void> {
  const host = new OnnxModelHost();
  for (const name of ['ppocr-det', 'ppocr-cls', 'ppocr-rec']) {
    const entry = findShippedModel(name, '1');
    if (!entry) throw new Error(`${name} is not shipped`);
    await host.load(entry, { executionProviders: ['cpu'], intraOpThreads: 2 });
  }
  const unclip = Number(process.argv[2] ?? 'NaN');
  const def: FeatureDefinition = Number.isFinite(unclip)
    ? { ...OCR_V1, nodes: OCR_V1.nodes.map((n) => (n.id === 'boxes' ? { ...n, params: { ...n.params, unclipRatio: unclip } } : n)) }
    : OCR_V1;
  let errors = 0;
  let chars = 0;
  let spaceless = 0;
  for (const page of accuracySet()) {
    const png = await renderPage({ lines: page.lines, font: page.font, pointSize: page.pointSize });
    const res = await runPipeline(def, { image: png.toString('base64') }, host);
    const read = (res.output as { text: string }).text;
    const truth = page.lines.map((l) => l.text).join('\n');
    const e = editDistance(read, truth);
    const es = editDistance(read.replace(/\s+/g, ''), truth.replace(/\s+/g, ''));
    errors += e;
    chars += truth.length;
    spaceless += es;
    console.log(`${page.name.padEnd(44)} ${(100 * (1 - e / truth.length)).toFixed(1).padStart(6)}%  ${e === 0 ? '' : JSON.stringify(read)}`);
  }
  console.log(`\ncharacter accuracy: ${(100 * (1 - errors / chars)).toFixed(2)}% (${chars - errors}/${chars}); ignoring spaces: ${(100 * (1 - spaceless / chars)).toFixed(2)}%`);
  await host.close();
}

await main();
