import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { isProblemError, type ProblemError } from '#infra/errors';
import { findShippedModel } from '#model-service/model-format';
import { OnnxModelHost } from '#model-service/runtime';
import type { ModelRunner } from '#model-service/tensors';
import { featureModels, findFeature, listFeatures, OCR_LINE_V1 } from '#feature-engine/feature-catalogue';
import { runPipeline } from './index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const helloPng = readFileSync(join(root, 'examples', 'hello.png'));
const host = new OnnxModelHost();

beforeAll(async () => {
  for (const name of ['ppocr-rec', 'ppocr-cls']) {
    const model = findShippedModel(name, '1');
    if (!model) throw new Error(`${name} missing`);
    await host.load(model, { executionProviders: ['cuda', 'cpu'], intraOpThreads: 2 });
  }
});

afterAll(async () => {
  await host.close();
});

async function problemOf(p: Promise<unknown>): Promise<ProblemError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!isProblemError(e)) throw new Error(`expected a ProblemError, got ${String(e)}`);
  return e;
}

describe('catalogue', () => {
  it('lists ocr-line and image-orientation v1 and finds the latest version', () => {
    expect(listFeatures().map((f) => `${f.name}@${f.version}`)).toEqual(['image-orientation@1', 'ocr@1', 'ocr-line@1']);
    expect(findFeature('ocr-line')).toBe(OCR_LINE_V1);
    expect(findFeature('ocr-line', '1')).toBe(OCR_LINE_V1);
    expect(findFeature('ocr-line', '2')).toBeUndefined();
    expect(findFeature('nope')).toBeUndefined();
    expect(featureModels(OCR_LINE_V1)).toEqual([{ name: 'ppocr-rec', version: '1' }]);
    expect(OCR_LINE_V1.price).toEqual({ units: 1, unitType: 'image' });
  });

  it('definitions are plain JSON', () => {
    for (const def of listFeatures()) expect(JSON.parse(JSON.stringify(def))).toEqual(def);
  });
});

describe('ocr-line on the real PaddleOCR recognition model', () => {
  it('reads examples/hello.png exactly', async () => {
    const res = await runPipeline(OCR_LINE_V1, { image: helloPng.toString('base64') }, host);
    const output = res.output as { text: string; confidence: number };
    expect(output.text).toBe('Hello Stratum');
    expect(output.confidence).toBeGreaterThan(0.9);
    expect(res.models).toEqual([{ name: 'ppocr-rec', version: '1' }]);
    expect(res.units).toBe(1);
    expect(res.unitType).toBe('image');
  });

  it('accepts a data: URL and a JPEG', async () => {
    const jpeg = await sharp(helloPng).jpeg({ quality: 90 }).toBuffer();
    const res = await runPipeline(OCR_LINE_V1, { image: `data:image/jpeg;base64,${jpeg.toString('base64')}` }, host);
    expect((res.output as { text: string }).text).toBe('Hello Stratum');
  });

  it('refuses base64 that is not an image with a 422 invalid_input', async () => {
    const e = await problemOf(runPipeline(OCR_LINE_V1, { image: Buffer.from('just some text, not a picture').toString('base64') }, host));
    expect(e.code).toBe('invalid_input');
    expect(e.status).toBe(422);
  });

  it('refuses a string that is not base64 with invalid_input', async () => {
    const e = await problemOf(runPipeline(OCR_LINE_V1, { image: 'this is not base64!!' }, host));
    expect(e.code).toBe('invalid_input');
  });

  it('refuses a truncated PNG with invalid_input', async () => {
    const e = await problemOf(runPipeline(OCR_LINE_V1, { image: helloPng.subarray(0, 60).toString('base64') }, host));
    expect(e.code).toBe('invalid_input');
  });

  it('refuses images over 16 megapixels before decoding them', async () => {
    const big = await sharp({ create: { width: 5000, height: 3300, channels: 3, background: '#ffffff' } }).png({ compressionLevel: 1 }).toBuffer();
    const e = await problemOf(runPipeline(OCR_LINE_V1, { image: big.toString('base64') }, host));
    expect(e.code).toBe('invalid_input');
    expect(e.detail).toMatch(/16000000 pixels/);
  });

  it('gives model_unavailable when the runner has no such model', async () => {
    const empty = new OnnxModelHost();
    const e = await problemOf(runPipeline(OCR_LINE_V1, { image: helloPng.toString('base64') }, empty));
    expect(e.code).toBe('model_unavailable');
  });
});

describe('image-orientation on the real PaddleOCR orientation model', () => {
  const def = findFeature('image-orientation', '1');

  it('says 0 for the upright line and 180 for the rotated one', async () => {
    if (!def) throw new Error('image-orientation missing');
    const upright = await runPipeline(def, { image: helloPng.toString('base64') }, host);
    expect(upright.output).toMatchObject({ angle: 0 });
    const flipped = await sharp(helloPng).rotate(180).png().toBuffer();
    const res = await runPipeline(def, { image: flipped.toString('base64') }, host);
    expect(res.output).toMatchObject({ angle: 180 });
    expect((res.output as { confidence: number }).confidence).toBeGreaterThan(0.9);
    expect(res.models).toEqual([{ name: 'ppocr-cls', version: '1' }]);
  });
});

describe('runPipeline with a fake runner', () => {
  it('runs nodes in dependency order and reports the served models', async () => {
    const calls: string[] = [];
    const runner: ModelRunner = {
      async run(model) {
        calls.push(`${model.name}@${model.version}`);
        return { probs: { dtype: 'float32', dims: [1, 2], data: Float32Array.from([0.25, 0.75]) } };
      },
    };
    const def = findFeature('image-orientation');
    if (!def) throw new Error('image-orientation missing');
    const res = await runPipeline(def, { image: helloPng.toString('base64') }, runner);
    expect(calls).toEqual(['ppocr-cls@1']);
    expect(res.output).toEqual({ angle: 180, confidence: 0.75 });
  });
});

describe('units from the call', () => {
  it('counts what the document says from the actual output (here: started 4 characters of the text read)', async () => {
    const perChars = { ...OCR_LINE_V1, name: 'ocr-chars', price: { unitType: 'characters', units: { characters: '/text', per: 4 } } };
    const res = await runPipeline(perChars, { image: helloPng.toString('base64') }, host);
    expect(res.output).toMatchObject({ text: 'Hello Stratum' });
    expect({ units: res.units, unitType: res.unitType }).toEqual({ units: Math.ceil('Hello Stratum'.length / 4), unitType: 'characters' });
    const fixed = await runPipeline(OCR_LINE_V1, { image: helloPng.toString('base64') }, host);
    expect({ units: fixed.units, unitType: fixed.unitType }).toEqual({ units: 1, unitType: 'image' });
  });
});
