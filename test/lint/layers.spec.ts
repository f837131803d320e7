// The lint rules that keep the architecture honest actually fire: layer boundaries,
// lib entry points, process.env outside config, forwardRef, floating promises.
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';
import { repoRoot } from '#libs/db';

const eslint = new ESLint({ cwd: repoRoot() });

async function rulesHit(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${repoRoot()}/${file}` });
  return (result?.messages ?? []).map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

describe('layer and hygiene lint rules', () => {
  it('Model Service may not import the Feature Engine or billing', async () => {
    const hits = await rulesHit('libs/models/src/host.ts', "import { FEATURES } from '#libs/features';\nimport { recordUsage } from '#libs/metering';\nexport const x = [FEATURES, recordUsage];\n");
    expect(hits.filter((h) => h.startsWith('no-restricted-imports'))).toHaveLength(2);
  });

  it('Infra libs may not import the Feature Engine, and no lib imports an app', async () => {
    expect((await rulesHit('libs/queue/src/inference-job.ts', "import { FEATURES } from '#libs/features';\nexport const x = FEATURES;\n")).join()).toContain('never import the Feature Engine');
    expect((await rulesHit('libs/queue/src/inference-job.ts', "import { GatewayModule } from '../../../apps/gateway/src/gateway.module.js';\nexport const x = GatewayModule;\n")).join()).toContain('libs never import apps');
  });

  it('the Feature Engine may call the Model Service', async () => {
    const hits = await rulesHit('libs/features/src/pipeline.ts', "import { SHIPPED_MODELS } from '#libs/models';\nexport const x = SHIPPED_MODELS;\n");
    expect(hits.filter((h) => h.startsWith('no-restricted-imports'))).toEqual([]);
  });

  it('libs are imported through their index only', async () => {
    expect((await rulesHit('apps/gateway/src/main.ts', "import { x } from '#libs/models/host';\nexport const y = x;\n")).join()).toContain('through its index');
  });

  it('process.env is read only in libs/config, and forwardRef and floating promises are refused', async () => {
    expect((await rulesHit('apps/worker/src/main.ts', 'export const port = process.env.PORT;\n')).join()).toContain('no-restricted-properties');
    expect((await rulesHit('libs/config/src/env.ts', 'export const port = process.env.PORT;\n')).join()).not.toContain('no-restricted-properties');
    expect((await rulesHit('apps/worker/src/main.ts', "import { forwardRef } from '@nestjs/common';\nexport const r = forwardRef(() => Object);\n")).join()).toContain('no forwardRef');
    expect((await rulesHit('apps/worker/src/main.ts', 'async function f(): Promise<void> {}\nf();\n')).join()).toContain('no-floating-promises');
  });
});
