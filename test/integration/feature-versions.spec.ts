// Published feature versions against the real Postgres (own schema): recorded once with their
// sha256 even when several processes start at once; a changed document for a recorded version is
// refused, naming the file; new versions and an unchanged document (a moved default marker) pass.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { builtinFeatureCatalogue, IMAGE_ORIENTATION_V1, inlineDocument, OCR_LINE_V1, type FeatureDocument } from '#feature-engine/feature-catalogue';
import { changedVersions, FeatureVersionChangedError, recordFeatureVersions } from '#feature-engine/feature-registry';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('feature_versions');
});
afterAll(async () => {
  await db?.drop();
});

const asFile = (doc: FeatureDocument, file: string): FeatureDocument => ({ ...doc, file });

describe('recordFeatureVersions', () => {
  it('records every served version once with its sha256, even when run concurrently', async () => {
    const docs = builtinFeatureCatalogue().documents();
    const results = await Promise.all([1, 2, 3].map(() => recordFeatureVersions(db.prisma, docs)));
    expect(results.reduce((n, r) => n + r.inserted, 0)).toBe(docs.length);
    const rows = await db.prisma.feature.findMany({ orderBy: { name: 'asc' } });
    expect(rows.map((r) => [r.name, r.version, r.sha256])).toEqual(docs.map((d) => [d.def.name, d.def.version, d.sha256]));
    expect(rows.find((r) => r.name === 'ocr-line')?.price).toEqual({ unitType: 'image', units: 1 });
  });

  it('refuses a changed document for a published version, naming the file', async () => {
    const changed = asFile(inlineDocument({ ...OCR_LINE_V1, description: 'reads better now' }), '/srv/features/ocr-line@1.json');
    const e = await recordFeatureVersions(db.prisma, [changed]).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(FeatureVersionChangedError);
    const recorded = inlineDocument(OCR_LINE_V1).sha256;
    expect((e as Error).message).toBe(
      `/srv/features/ocr-line@1.json: feature ocr-line@1 was published with sha256 ${recorded} and this document's content has sha256 ${changed.sha256}; ` +
        'a published version is immutable: publish the change as a new version (ocr-line@2) and restore the document',
    );
    // Nothing was overwritten.
    expect((await db.prisma.feature.findFirst({ where: { name: 'ocr-line', version: '1' } }))?.sha256).toBe(recorded);
  });

  it('accepts a new version, and the same content with the default marker moved', async () => {
    const v2 = inlineDocument({ ...IMAGE_ORIENTATION_V1, version: '2', price: { unitType: 'image', units: 2 } });
    const marked = inlineDocument({ ...IMAGE_ORIENTATION_V1, default: true });
    await expect(recordFeatureVersions(db.prisma, [v2, marked])).resolves.toEqual({ inserted: 1 });
  });

  it('changedVersions compares by name@version (pure)', () => {
    const doc = inlineDocument(OCR_LINE_V1);
    expect(changedVersions([doc], [{ name: 'ocr-line', version: '1', sha256: doc.sha256 }])).toEqual([]);
    expect(changedVersions([doc], [{ name: 'ocr-line', version: '2', sha256: 'x' }])).toEqual([]);
    expect(changedVersions([doc], [{ name: 'ocr-line', version: '1', sha256: 'x' }])).toEqual([{ file: doc.file, name: 'ocr-line', version: '1', recorded: 'x', found: doc.sha256 }]);
  });
});
