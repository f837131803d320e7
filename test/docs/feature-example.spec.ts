// README's worked feature document is loaded and validated as an operator's FEATURES_DIR would be,
// so the docs cannot rot (the e2e test test/e2e/feature-documents.e2e.spec.ts also serves it).
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHIPPED_MODELS } from '#model-service/model-format';
import { loadFeatureCatalogue } from '#feature-engine/feature-catalogue';
import { readmeFeatureExample } from '../support/feature-example.js';

const dir = mkdtempSync(join(tmpdir(), 'stratum-readme-feature-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("README's worked feature document", () => {
  it('loads from a FEATURES_DIR next to the shipped features, as a second version with its own price', async () => {
    const example = readmeFeatureExample();
    writeFileSync(join(dir, example.file), example.text);
    const catalogue = await loadFeatureCatalogue({ featuresDir: dir, models: SHIPPED_MODELS });
    expect(catalogue.versions('image-orientation').map((f) => f.version)).toEqual(['1', '2']);
    const v2 = catalogue.find('image-orientation@2');
    expect(v2?.price).toEqual({ unitType: 'image', units: 2 });
    expect(catalogue.find('image-orientation')).toBe(v2);
    expect(catalogue.documentOf(v2!)).toMatchObject({ file: join(dir, 'image-orientation@2.json'), source: 'features_dir' });
  });
});
