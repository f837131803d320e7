import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILTIN_MODELS, configRecord, effectiveMaxBatchSize, findModel, loadModelRepository, mergeRepositories, ModelRepositoryError, readOnnxSignature, signatureFromOnnx, SHIPPED_MODELS, withBuiltins, type ModelEntry } from './index.js';
import { OnnxModelHost, warmupFeeds } from '#model-service/runtime';
import { writeTinyRepository } from '#tools/model-builders';

const roots: string[] = [];
function tempRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stratum-repo-'));
  roots.push(dir);
  return dir;
}
afterAll(() => roots.forEach((r) => rmSync(r, { recursive: true, force: true })));

async function loadError(root: string): Promise<string> {
  const err = await loadModelRepository(root).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ModelRepositoryError);
  return (err as Error).message;
}

describe('loadModelRepository', () => {
  it('reads models, versions, merged configs, assets and the default version', async () => {
    const root = writeTinyRepository(tempRoot(), [
      { name: 'tiny-a', versions: ['1', '2', '10'], config: { description: 'A', max_batch_size: 8, graph_optimization_level: 'basic' }, versionConfig: { '2': { max_batch_size: 2, enable_mem_arena: false } } },
      { name: 'tiny-b', config: { pool: 'other', default_version: '1', assets: { labels: 'labels.txt' }, warmup: { x: { dims: [2, 4], value: 1 } } } },
    ]);
    writeFileSync(join(root, 'tiny-b', 'labels.txt'), 'a\nb\nc\n');
    const models = await loadModelRepository(root);
    expect(models.map((m) => [m.name, m.pool, m.defaultVersion, m.versions.map((v) => v.version)])).toEqual([
      ['tiny-a', 'tiny', '10', ['1', '2', '10']],
      ['tiny-b', 'other', '1', ['1']],
    ]);
    const a2 = findModel(models, 'tiny-a', '2');
    expect(a2).toMatchObject({
      description: 'A',
      artifactPath: join(root, 'tiny-a', '2', 'model.onnx'),
      artifactUri: 'repository:tiny-a/2/model.onnx',
      source: 'repository',
      config: { maxBatchSize: 2, maxQueueDelayMs: 2, intraOpThreads: 1, graphOptimizationLevel: 'basic', enableMemArena: false, warmup: 'auto' },
    });
    expect(findModel(models, 'tiny-a', '1')?.config).toMatchObject({ maxBatchSize: 8, enableMemArena: true });
    expect(findModel(models, 'tiny-a')?.version).toBe('10');
    const b = findModel(models, 'tiny-b');
    expect(b?.assets).toEqual({ labels: join(root, 'tiny-b', 'labels.txt') });
    expect(b?.config.warmup).toEqual({ x: { dims: [2, 4], value: 1 } });
  });

  it('names the file and the field of a bad config', async () => {
    const root = writeTinyRepository(tempRoot(), [{ name: 'bad', config: { max_batch_size: 0, colour: 'blue' } }]);
    const msg = await loadError(root);
    expect(msg).toContain(join(root, 'bad', 'config.json'));
    expect(msg).toMatch(/max_batch_size: .*(>=|greater|at least|too small)/i);
    expect(msg).toMatch(/colour|unrecognized/i);

    const v = writeTinyRepository(tempRoot(), [{ name: 'badv', versionConfig: { '1': { graph_optimization_level: 'max' } } }]);
    const vmsg = await loadError(v);
    expect(vmsg).toContain(join(v, 'badv', '1', 'config.json'));
    expect(vmsg).toContain('graph_optimization_level');

    const nopool = tempRoot();
    writeTinyRepository(nopool, [{ name: 'np' }]);
    writeFileSync(join(nopool, 'np', 'config.json'), '{"max_batch_size": 4}');
    expect(await loadError(nopool)).toMatch(/np[/\\]config\.json: pool: /);

    const notJson = tempRoot();
    writeTinyRepository(notJson, [{ name: 'nj' }]);
    writeFileSync(join(notJson, 'nj', 'config.json'), '{ pool: tiny');
    expect(await loadError(notJson)).toMatch(/nj[/\\]config\.json: not valid JSON/);
  });

  it('refuses a missing model.onnx, a missing config, an unknown default_version and assets outside the folder', async () => {
    const r1 = writeTinyRepository(tempRoot(), [{ name: 'm' }]);
    mkdirSync(join(r1, 'm', '2'));
    expect(await loadError(r1)).toMatch(/m[/\\]2: missing model\.onnx/);

    const r2 = tempRoot();
    mkdirSync(join(r2, 'noconf', '1'), { recursive: true });
    expect(await loadError(r2)).toMatch(/noconf[/\\]config\.json: cannot be read/);

    const r3 = writeTinyRepository(tempRoot(), [{ name: 'd', config: { default_version: '7' } }]);
    expect(await loadError(r3)).toMatch(/default_version: "7" is not one of the versions \(1\)/);

    const r4 = writeTinyRepository(tempRoot(), [{ name: 'x', config: { assets: { dict: '../../etc/passwd' } } }]);
    expect(await loadError(r4)).toMatch(/assets\.dict: .* points outside/);

    expect(await loadError(join(r4, 'nothing-here'))).toMatch(/is not a directory/);
  });

  it('max_batch_size_cpu: per version, only on a CPU session, never above max_batch_size', async () => {
    const root = writeTinyRepository(tempRoot(), [{ name: 'gpu-batch', versions: ['1', '2'], config: { max_batch_size: 8, max_batch_size_cpu: 1 }, versionConfig: { '2': { max_batch_size_cpu: 4 } } }]);
    const models = await loadModelRepository(root);
    const v1 = findModel(models, 'gpu-batch', '1')!;
    expect(v1.config).toMatchObject({ maxBatchSize: 8, maxBatchSizeCpu: 1 });
    expect(findModel(models, 'gpu-batch', '2')?.config.maxBatchSizeCpu).toBe(4);
    expect([effectiveMaxBatchSize(v1.config, 'cpu'), effectiveMaxBatchSize(v1.config, 'cuda'), effectiveMaxBatchSize(v1.config, null)]).toEqual([1, 8, 8]);
    expect(configRecord(v1)).toMatchObject({ max_batch_size: 8, max_batch_size_cpu: 1 });
    // Unset: the CPU uses max_batch_size, and the registry record has no such field.
    const plain = findModel(await loadModelRepository(writeTinyRepository(tempRoot(), [{ name: 'plain' }])), 'plain')!;
    expect(effectiveMaxBatchSize(plain.config, 'cpu')).toBe(64);
    expect(configRecord(plain)).not.toHaveProperty('max_batch_size_cpu');

    expect(await loadError(writeTinyRepository(tempRoot(), [{ name: 'zero', config: { max_batch_size_cpu: 0 } }]))).toMatch(/zero[/\\]config\.json: max_batch_size_cpu: /);
    expect(await loadError(writeTinyRepository(tempRoot(), [{ name: 'frac', config: { max_batch_size_cpu: 1.5 } }]))).toMatch(/max_batch_size_cpu: .*int/i);
    const above = writeTinyRepository(tempRoot(), [{ name: 'above', config: { max_batch_size: 4 }, versionConfig: { '1': { max_batch_size_cpu: 16 } } }]);
    expect(await loadError(above)).toMatch(/above[/\\]1[/\\]config\.json: max_batch_size_cpu: 16 is larger than max_batch_size 4/);
  });

  it('refuses two folders that are the same version', async () => {
    const root = writeTinyRepository(tempRoot(), [{ name: 'dup', versions: ['1', '01'] }]);
    expect(await loadError(root)).toMatch(/duplicate version: "1" and "01" are the same version of dup|duplicate version: "01" and "1"/);
  });
});

describe('built-in repository and merging', () => {
  it('expresses the shipped models as a repository pointing into node_modules', () => {
    expect(BUILTIN_MODELS.map((m) => `${m.name}@${m.defaultVersion}:${m.pool}`)).toEqual(['ppocr-rec@1:ocr', 'ppocr-cls@1:ocr', 'ppocr-det@1:ocr']);
    for (const e of SHIPPED_MODELS) {
      expect(e.artifactPath).toContain(join('node_modules', '@gutenye', 'ocr-models'));
      expect(e.artifactUri).toMatch(/^builtin:@gutenye\/ocr-models\/assets\/.+\.onnx$/);
    }
    // ppocr-rec batches on GPUs only (compute-bound: batching loses on a CPU).
    expect(SHIPPED_MODELS[0]?.config).toMatchObject({ maxBatchSize: 4, maxBatchSizeCpu: 1, warmup: { x: { dims: [1, 3, 48, 320] } } });
  });

  it('a MODEL_REPOSITORY version equal to a shipped one is an error naming both; new names and versions merge', async () => {
    const root = writeTinyRepository(tempRoot(), [{ name: 'ppocr-cls', config: { pool: 'ocr' } }]);
    const clash = await loadModelRepository(root);
    let err: unknown;
    try {
      withBuiltins(clash);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelRepositoryError);
    expect((err as Error).message).toContain(join(root, 'ppocr-cls', '1', 'model.onnx'));
    expect((err as Error).message).toContain('ch_ppocr_mobile_v2.0_cls_infer.onnx');

    const ok = await loadModelRepository(writeTinyRepository(tempRoot(), [{ name: 'ppocr-cls', versions: ['2'], config: { pool: 'ocr' } }, { name: 'tiny-classifier' }]));
    const merged = withBuiltins(ok);
    expect(merged.find((m) => m.name === 'ppocr-cls')?.versions.map((v) => `${v.version}:${v.source}`)).toEqual(['1:builtin', '2:repository']);
    expect(merged.find((m) => m.name === 'ppocr-cls')?.defaultVersion).toBe('2');
    expect(merged.map((m) => m.name)).toContain('tiny-classifier');
    expect(() => mergeRepositories(BUILTIN_MODELS, [{ ...ok[1]!, name: 'ppocr-det', versions: [] }])).toThrow(/pool: "tiny" differs from the pool "ocr"/);
  });
});

describe('signature read from the ONNX file', () => {
  it('gives the tiny classifier exact names, dtypes and dims, equal to what a session reports', async () => {
    const root = writeTinyRepository(tempRoot());
    const path = join(root, 'tiny-classifier', '1', 'model.onnx');
    const sig = await readOnnxSignature(path);
    expect(sig).toEqual({
      inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4] }],
      outputs: [{ name: 'probs', dtype: 'float32', shape: ['batch', 3] }],
    });
    const [entry] = (await loadModelRepository(root))[0]!.versions;
    const host = new OnnxModelHost();
    try {
      const status = await host.load(entry!, { executionProviders: ['cpu'], intraOpThreads: 1 });
      expect(status.signature).toEqual(sig);
    } finally {
      await host.close();
    }
  });

  it('reads the shipped orientation model without a session', () => {
    const cls = SHIPPED_MODELS.find((m) => m.name === 'ppocr-cls')!;
    const sig = signatureFromOnnx(readFileSync(cls.artifactPath));
    expect(sig.inputs.map((i) => [i.name, i.dtype, i.shape.length])).toEqual([['x', 'float32', 4]]);
    expect(sig.inputs[0]?.shape.slice(1)).toEqual([3, expect.anything(), expect.anything()]);
    expect(sig.outputs[0]?.shape[1]).toBe(2);
  });
});

describe('warm-up', () => {
  const sig = { inputs: [{ name: 'x', dtype: 'float32', shape: ['batch', 4, null] }], outputs: [] };
  it('"auto" gives zeros with dynamic dims set to 1; explicit tensors take their dims and value', () => {
    const auto = warmupFeeds('auto', sig)['x'];
    expect(auto?.dims).toEqual([1, 4, 1]);
    expect([...(auto?.data as Float32Array)]).toEqual([0, 0, 0, 0]);
    const explicit = warmupFeeds({ x: { dims: [2, 4, 1], value: 1 } }, sig)['x'];
    expect(explicit?.dims).toEqual([2, 4, 1]);
    expect([...(explicit?.data as Float32Array)]).toEqual(new Array(8).fill(1));
    expect(() => warmupFeeds({ y: { dims: [1], value: 0 } }, sig)).toThrow(/does not have: y/);
  });

  it('a model whose warm-up fails is not ready, and the others are', async () => {
    const root = writeTinyRepository(tempRoot(), [{ name: 'good' }, { name: 'cold', config: { warmup: { x: { dims: [1, 5], value: 0 } } } }]);
    const entries: ModelEntry[] = (await loadModelRepository(root)).flatMap((m) => m.versions);
    const loaded: string[] = [];
    const host = new OnnxModelHost({ onLoaded: (s) => loaded.push(`${s.name}:${s.ready}`) });
    try {
      const results = await Promise.allSettled(entries.map((e) => host.load(e, { executionProviders: ['cpu'], intraOpThreads: 1 })));
      expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']); // cold, good (sorted by name)
      const byName = Object.fromEntries(host.status().map((s) => [s.name, s]));
      expect(byName['good']).toMatchObject({ ready: true, error: null });
      expect(byName['cold']).toMatchObject({ ready: false });
      expect(byName['cold']?.error).toBeTruthy();
      expect(loaded.sort()).toEqual(['cold:false', 'good:true']);
      expect(host.isReady()).toBe(false);
      await expect(host.run({ name: 'cold', version: '1' }, {})).rejects.toMatchObject({ code: 'model_unavailable' });
    } finally {
      await host.close();
    }
  });
});
