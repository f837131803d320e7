import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { SHIPPED_MODELS } from '#model-service/model-format';
import {
  BUILTIN_FEATURES_DIR,
  FeatureCatalogueError,
  FeatureDefinitionError,
  featureDigest,
  IMAGE_ORIENTATION_V1,
  loadFeatureCatalogue,
  OCR_LINE_V1,
  parseFeatureDocument,
  type FeatureDefinition,
  type FeatureCatalogue,
} from './index.js';

let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stratum-features-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh FEATURES_DIR holding these documents (`name@version.json` unless a file name is given). */
function folder(docs: (FeatureDefinition | { file: string; text: string })[]): string {
  const d = join(dir, `case-${n++}`);
  mkdirSync(d);
  for (const doc of docs) {
    if ('file' in doc) writeFileSync(join(d, doc.file), doc.text);
    else writeFileSync(join(d, `${doc.name}@${doc.version}.json`), JSON.stringify(doc, null, 2));
  }
  return d;
}

const load = (featuresDir: string): Promise<FeatureCatalogue> => loadFeatureCatalogue({ featuresDir, models: SHIPPED_MODELS });

/** The start-up error's text for a FEATURES_DIR holding one document. */
async function errorOf(def: FeatureDefinition): Promise<{ message: string; file: string }> {
  const featuresDir = folder([def]);
  const e = await load(featuresDir).then(
    () => null,
    (err: unknown) => err,
  );
  if (!(e instanceof FeatureDefinitionError)) throw new Error(`expected a FeatureDefinitionError, got ${String(e)}`);
  return { message: e.message, file: join(featuresDir, `${def.name}@${def.version}.json`) };
}

/** ocr-line@1 as a new feature "my-ocr", with its nodes changed. */
function variant(change: (nodes: FeatureDefinition['nodes']) => FeatureDefinition['nodes'], extra: Partial<FeatureDefinition> = {}): FeatureDefinition {
  const base = structuredClone(OCR_LINE_V1);
  return { ...base, name: 'my-ocr', nodes: change(base.nodes), ...extra };
}
const patch = (id: string, p: Partial<FeatureDefinition['nodes'][number]>) => (nodes: FeatureDefinition['nodes']) => nodes.map((x) => (x.id === id ? { ...x, ...p } : x));

describe('built-in feature documents', () => {
  it('are files in the repository, and the catalogue loads them against the shipped models', async () => {
    const fromFile = parseFeatureDocument(readFileSync(join(BUILTIN_FEATURES_DIR, 'ocr-line@1.json'), 'utf8'), 'ocr-line@1.json');
    expect(fromFile).toEqual(OCR_LINE_V1);
    const catalogue = await load('');
    expect(catalogue.list().map((f) => `${f.name}@${f.version}`)).toEqual(['image-orientation@1', 'ocr@1', 'ocr-line@1']);
    expect(catalogue.find('image-orientation')).toEqual(IMAGE_ORIENTATION_V1);
    expect(catalogue.documentOf(catalogue.find('ocr-line')!)).toMatchObject({ source: 'builtin', sha256: featureDigest(OCR_LINE_V1), file: join(BUILTIN_FEATURES_DIR, 'ocr-line@1.json') });
  });
});

describe('start-up validation names the file and the node', () => {
  it('an unknown node type', async () => {
    const { message, file } = await errorOf(variant(patch('tensor', { op: 'image.sharpen' })));
    expect(message).toContain(file);
    expect(message).toContain('node tensor: unknown op "image.sharpen"');
  });

  it('a missing model, and a missing version of a known model', async () => {
    const noModel = await errorOf(variant(patch('recognise', { params: { model: 'no-such-model', version: '1' } })));
    expect(noModel.message).toContain(noModel.file);
    expect(noModel.message).toContain('node recognise (model.run): model no-such-model@1 is not served here (no model of that name)');
    const noVersion = await errorOf(variant(patch('recognise', { params: { model: 'ppocr-rec', version: '9' } })));
    expect(noVersion.message).toContain('node recognise (model.run): model ppocr-rec@9 is not served here (its versions: 1)');
  });

  it('a cycle', async () => {
    const { message, file } = await errorOf(variant(patch('tensor', { inputs: { image: 'text' } })));
    expect(message).toContain(file);
    expect(message).toContain('cycle among nodes tensor, recognise, text');
  });

  it('a shape mismatch between connected nodes (read from the model signature)', async () => {
    // PP-OCR recognition takes x: float32 [N,3,48,W]: a 32-pixel-high tensor cannot feed it.
    const { message, file } = await errorOf(variant(patch('tensor', { params: { height: 32, maxWidth: 320 } })));
    expect(message).toContain(file);
    expect(message).toContain('node recognise (model.run): input x expects a float32 tensor [?,3,48,?] but tensor gives a float32 tensor [1,3,32,?] (dimension 2 is 32, not 48)');
  });

  it('a type mismatch between connected nodes', async () => {
    const image = await errorOf(variant(patch('text', { inputs: { probs: 'decode' } })));
    expect(image.message).toContain('node text (ctc.greedy_decode): input probs expects a float32 tensor [?,?,?] but decode gives an image (kind mismatch)');
    // Two labels on a model of 2 classes is fine; three is not.
    const orientation = structuredClone(IMAGE_ORIENTATION_V1);
    const labels = { ...orientation, name: 'my-orientation', nodes: orientation.nodes.map((x) => (x.id === 'angle' ? { ...x, params: { labels: [0, 90, 180], key: 'angle' } } : x)) };
    const three = await errorOf(labels);
    expect(three.message).toContain('node angle (classify.top1): input probs expects a float32 tensor [?,3] but classify gives a float32 tensor [?,2] (dimension 1 is 2, not 3)');
    // A field of a node that has none.
    const field = await errorOf(variant(patch('text', { inputs: { probs: 'recognise.logits' } })));
    expect(field.message).toContain('node text (ctc.greedy_decode): input probs (recognise.logits): a float32 tensor [?,?,6625] has no field "logits"');
  });

  it('an output that does not match the output schema', async () => {
    const wrongField = variant((x) => x, {
      output: { type: 'object', additionalProperties: false, required: ['label'], properties: { label: { type: 'string' } } },
    });
    const { message, file } = await errorOf(wrongField);
    expect(message).toContain(file);
    expect(message).toContain('node text (ctc.greedy_decode): output /label is required by the output schema but the node never gives it');
    expect(message).toContain('node text (ctc.greedy_decode): output /text is given by the node but the output schema does not allow it');
    const tensorOut = await errorOf(variant((x) => x, { outputNode: 'recognise' }));
    expect(tensorOut.message).toContain('node recognise (model.run): output value is a float32 tensor [?,?,6625], not the JSON the output schema describes');
    const wrongType = await errorOf(variant((x) => x, { output: { ...OCR_LINE_V1.output, properties: { text: { type: 'number' }, confidence: { type: 'number' } } } }));
    expect(wrongType.message).toContain('output /text: JSON string is not number');
    const orientation = structuredClone(IMAGE_ORIENTATION_V1);
    const enumOut = await errorOf({ ...orientation, name: 'my-orientation', nodes: orientation.nodes.map((x) => (x.id === 'angle' ? { ...x, params: { labels: [0, 90], key: 'angle' } } : x)) });
    expect(enumOut.message).toContain('node angle (classify.top1): output /angle can be 90, which the output schema does not allow');
  });

  it('a price whose units do not fit the output schema', async () => {
    const { message } = await errorOf(variant((x) => x, { price: { unitType: 'line', units: { count: '/lines' } } }));
    expect(message).toContain('price: units.count: "/lines" does not name a field of the output schema (at "lines")');
    const chars = await errorOf(variant((x) => x, { price: { unitType: 'characters', units: { characters: '/confidence', per: 1000 } } }));
    expect(chars.message).toContain('price: units.characters: "/confidence" is not a string in the output schema');
  });

  it('a malformed document, a misnamed file, a duplicate name@version and two defaults', async () => {
    const bad = folder([{ file: 'broken@1.json', text: '{ "name": "broken", ' }]);
    await expect(load(bad)).rejects.toThrow(`${join(bad, 'broken@1.json')}: feature broken@1.json is invalid: not valid JSON`);
    const shape = folder([{ file: 'x@1.json', text: JSON.stringify({ ...OCR_LINE_V1, name: 'x', nodes: [{ id: 'a', op: 'image.decode' }], colour: 'red' }) }]);
    await expect(load(shape)).rejects.toThrow(/x@1\.json: feature x@1\.json is invalid: .*\/colour is not a known field.*\/nodes\/0\/inputs is required/);
    const misnamed = folder([{ file: 'other@1.json', text: JSON.stringify({ ...OCR_LINE_V1, name: 'my-ocr' }) }]);
    await expect(load(misnamed)).rejects.toThrow('the file must be named my-ocr@1.json (it holds my-ocr version 1)');
    const twin = folder([OCR_LINE_V1]);
    await expect(load(twin)).rejects.toThrow(`${join(twin, 'ocr-line@1.json')}: feature ocr-line@1 is invalid: defined twice (also in ${join(BUILTIN_FEATURES_DIR, 'ocr-line@1.json')})`);
    const two = folder([
      { ...OCR_LINE_V1, version: '2', default: true },
      { ...OCR_LINE_V1, version: '3', default: true },
    ]);
    await expect(load(two)).rejects.toThrow('versions 2, 3 are all marked default: true');
  });

  it('reports every bad document at once', async () => {
    const d = folder([variant(patch('tensor', { op: 'image.sharpen' }), { name: 'a-one' }), variant(patch('tensor', { inputs: { image: 'text' } }), { name: 'b-two' })]);
    const e = await load(d).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(FeatureCatalogueError);
    expect((e as Error).message).toContain(`${join(d, 'a-one@1.json')}: feature a-one@1 is invalid: node tensor: unknown op`);
    expect((e as Error).message).toContain(`${join(d, 'b-two@1.json')}: feature b-two@1 is invalid: cycle among nodes`);
  });
});

describe('versions and defaults', () => {
  it('serves name@1 and name@2 together; the default is the highest version unless one is marked default', async () => {
    const v2 = { ...structuredClone(IMAGE_ORIENTATION_V1), version: '2', price: { unitType: 'image', units: 2 } };
    const latest = await load(folder([v2]));
    expect(latest.versions('image-orientation').map((f) => f.version)).toEqual(['1', '2']);
    expect(latest.find('image-orientation')?.version).toBe('2');
    expect(latest.find('image-orientation', '1')?.version).toBe('1');
    expect(latest.find('image-orientation@1')?.version).toBe('1');
    expect(latest.find('image-orientation@1', '2')).toBeUndefined();
    expect(latest.find('image-orientation@3')).toBeUndefined();
    const pinned = await load(folder([{ file: 'image-orientation@2.yaml', text: toYaml(v2) }, { file: 'image-orientation@3.json', text: JSON.stringify({ ...v2, version: 3 }) }, { file: 'README.md', text: 'not a document' }]));
    expect(pinned.find('image-orientation')?.version).toBe('3');
    // A new version published but held back: callers without a version keep getting 2.
    const held = await load(folder([{ ...v2, default: true }, { ...v2, version: '3' }]));
    expect(held.find('image-orientation')?.version).toBe('2');
  });

  it('digests canonical content: JSON and YAML of the same document agree, key order and the default marker do not count', async () => {
    const yamlDoc = parseFeatureDocument(toYaml(OCR_LINE_V1), 'ocr-line@1.yaml');
    expect(featureDigest(yamlDoc)).toBe(featureDigest(OCR_LINE_V1));
    const reordered = Object.fromEntries(Object.entries(OCR_LINE_V1).reverse()) as unknown as FeatureDefinition;
    expect(featureDigest(reordered)).toBe(featureDigest(OCR_LINE_V1));
    expect(featureDigest({ ...OCR_LINE_V1, default: true })).toBe(featureDigest(OCR_LINE_V1));
    expect(featureDigest({ ...OCR_LINE_V1, description: 'changed' })).not.toBe(featureDigest(OCR_LINE_V1));
    expect(featureDigest(OCR_LINE_V1)).toMatch(/^[0-9a-f]{64}$/);
  });
});
