// The lint rules that keep the architecture honest actually fire: one rule per layer
// (docs/ARCHITECTURE.md), lib entry points, tools/ out of production code, process.env
// outside config, forwardRef, floating promises.
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';
import { repoRoot } from '#infra/db';

const eslint = new ESLint({ cwd: repoRoot() });

async function rulesHit(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${repoRoot()}/${file}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

const importing = (spec: string): string => `import * as m from '${spec}';\nexport const x = m;\n`;
const restricted = (hits: string[]): string[] => hits.filter((h) => h.startsWith('no-restricted-imports'));

describe('layer rules (one per layer)', () => {
  it('infra imports nothing above it', async () => {
    for (const spec of ['#platform/predictions', '#model-service/runtime', '#feature-engine/features']) {
      expect(restricted(await rulesHit('libs/infra/queue/src/inference-job.ts', importing(spec))).join()).toContain('layer infra may import only infra');
    }
    expect(restricted(await rulesHit('libs/infra/queue/src/inference-job.ts', importing('#infra/redis')))).toEqual([]);
  });

  it('platform imports infra only', async () => {
    for (const spec of ['#model-service/runtime', '#feature-engine/features']) {
      expect(restricted(await rulesHit('libs/platform/predictions/src/predictions.repository.ts', importing(spec))).join()).toContain('layer platform may import only');
    }
    expect(restricted(await rulesHit('libs/platform/predictions/src/predictions.repository.ts', importing('#infra/db')))).toEqual([]);
  });

  it('Model Service never imports the Feature Engine or the platform (billing, metering)', async () => {
    for (const spec of ['#feature-engine/features', '#platform/metering']) {
      expect(restricted(await rulesHit('libs/model-service/runtime/src/host.ts', importing(spec))).join()).toContain('layer model-service may import only');
    }
  });

  it('the Feature Engine may call the Model Service but not the platform', async () => {
    expect(restricted(await rulesHit('libs/feature-engine/features/src/pipeline.ts', importing('#model-service/runtime')))).toEqual([]);
    expect(restricted(await rulesHit('libs/feature-engine/features/src/pipeline.ts', importing('#platform/metering'))).join()).toContain('layer feature-engine may import only');
  });

  it('no lib imports an app, and no production code imports tools/', async () => {
    expect((await rulesHit('libs/infra/queue/src/inference-job.ts', importing('../../../../apps/gateway/src/gateway.module.js'))).join()).toContain('libs never import apps');
    expect((await rulesHit('apps/gateway/src/main.ts', importing('#tools/dev-services'))).join()).toContain('dev-only');
    expect((await rulesHit('libs/platform/audit/src/audit.ts', importing('#tools/supervisor'))).join()).toContain('dev-only');
    expect(restricted(await rulesHit('scripts/start.ts', importing('#tools/supervisor')))).toEqual([]);
    // A lib's specs are dev code: they may build test models with tools/, but the layer rule still holds.
    expect((await rulesHit('libs/model-service/runtime/src/host.ts', importing('#tools/model-builders'))).join()).toContain('dev-only');
    expect(restricted(await rulesHit('libs/model-service/runtime/src/host.spec.ts', importing('#tools/model-builders')))).toEqual([]);
    expect(restricted(await rulesHit('libs/model-service/runtime/src/host.spec.ts', importing('#feature-engine/features'))).join()).toContain('layer model-service may import only');
  });

  it('libs are imported through their index only', async () => {
    expect((await rulesHit('apps/gateway/src/main.ts', importing('#model-service/runtime/host'))).join()).toContain('through its index');
    expect((await rulesHit('libs/feature-engine/features/src/pipeline.ts', importing('../../../model-service/runtime/src/host.js'))).join()).toContain('through its index');
  });
});

describe('hygiene rules', () => {
  it('process.env is read only in libs/infra/config, and forwardRef and floating promises are refused', async () => {
    expect((await rulesHit('apps/worker/src/main.ts', 'export const port = process.env.PORT;\n')).join()).toContain('no-restricted-properties');
    expect((await rulesHit('libs/infra/config/src/env.ts', 'export const port = process.env.PORT;\n')).join()).not.toContain('no-restricted-properties');
    expect((await rulesHit('apps/worker/src/main.ts', "import { forwardRef } from '@nestjs/common';\nexport const r = forwardRef(() => Object);\n")).join()).toContain('no forwardRef');
    expect((await rulesHit('apps/worker/src/main.ts', 'async function f(): Promise<void> {}\nf();\n')).join()).toContain('no-floating-promises');
  });
});
